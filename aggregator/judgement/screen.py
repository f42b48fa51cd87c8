"""What intake reads off a new message besides its route: why it is junk, and the place it
names (its cluster's key).

Pure functions of the text, so the daemon computes them in the model's child process with
the batch's routing (``worker.screen_many``), off intake's event loop; without that process
intake calls the same functions itself. The text is the one intake routes,
``"<title>\\n<cleaned content>"`` (``aggregator.intake.followon.message_text``).
"""

from __future__ import annotations

from collections.abc import Sequence

from aggregator.judgement.followon import places
from aggregator.judgement.junk import JunkFilter
from schemas.config import JunkConfig

# One filter per configuration seen (a process serves one daemon; benchmarks switch).
_FILTERS: dict[str, JunkFilter] = {}


def place_key(text: str) -> str | None:
    """The place a complaint names, in one spelling (the first in the text)."""
    found = places(text)
    if not found:
        return None
    # the longest name is the most specific ("g obos ix" over "rt 03")
    return min(found, key=lambda p: (-len(p), p))


def junk_filter(config_json: str) -> JunkFilter:
    """The filter of a ``JunkConfig`` in its JSON form (what crosses to the child)."""
    f = _FILTERS.get(config_json)
    if f is None:
        if len(_FILTERS) > 16:
            _FILTERS.clear()
        f = _FILTERS[config_json] = JunkFilter(JunkConfig.model_validate_json(config_json))
    return f


def screen_many(
    texts: Sequence[str], junk: str | None, with_places: bool
) -> list[tuple[str | None, str | None]]:
    """(why it is junk or None, its place key or None) per text. ``junk``: the filter's
    configuration as JSON (None: not checked); ``with_places``: clusters are on."""
    f = junk_filter(junk) if junk is not None else None
    return [
        (
            f.check_message(t) if f is not None else None,
            place_key(t) if with_places else None,
        )
        for t in texts
    ]
