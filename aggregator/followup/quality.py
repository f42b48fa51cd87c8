"""Response quality: is an agency's answer a real follow-up, or an acknowledgement?

``classify(text, attachments)`` returns a :class:`FollowupLabel` and the reasons behind it
(the phrases, actions and particulars it found, and the model's view). The work is done by
the follow-up labeller of :mod:`aggregator.judgement.labeller`; this module keeps the call
shape the rest of the daemon uses.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from aggregator.judgement.labeller import Labeller, as_classifier
from schemas.config import FollowupConfig
from schemas.events import FollowupLabel


@functools.lru_cache(maxsize=16)
def _labeller(config_json: str) -> Labeller:
    return Labeller(FollowupConfig.model_validate_json(config_json))


def labeller(config: FollowupConfig | None = None) -> Labeller:
    return _labeller((config or FollowupConfig()).model_dump_json())


def classify(
    text: str, attachments: int = 0, *, config: FollowupConfig | None = None
) -> tuple[FollowupLabel, list[str]]:
    """Label one agency response and say why."""
    return labeller(config).classify(text, attachments)


def make_classifier(config: FollowupConfig | None) -> Callable[[str, int], tuple[str, list[str]]]:
    """The labeller bound to the configured phrases, returning plain strings (the shape the
    LAPOR! side stores): ``make_classifier(settings.followup)``."""
    return as_classifier(labeller(config))
