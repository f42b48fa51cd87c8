"""Suggest the agency (OPD) for a complaint: the learned router of the routing policy.

:class:`Router` wraps :mod:`aggregator.judgement.router` for intake: it turns the decision's
OPD code into the LAPOR! agency id of ``[agencies]`` (the suggestion LAPOR! receives; its
verifier's disposition still wins), falls back to the channel's own agency when the code
has no LAPOR! id or the router is switched off, and keeps the category, confidence,
reasons and triage flag stored on the complaint.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aggregator.judgement.model import read_jsonl
from aggregator.judgement.router import Decision, Example
from aggregator.judgement.router import Router as LearnedRouter
from aggregator.judgement.worker import ModelProcess

CORRECTIONS_FILE = "routing_corrections.jsonl"


@dataclass(frozen=True)
class Route:
    agency: str | None  # LAPOR! agency id suggested at push
    category: str | None  # LAPOR! category id (the channel's hint); the policy's is below
    rule: str | None  # what decided, for the timeline
    policy_category: str | None = None
    code: str | None = None  # OPD code of the policy
    confidence: float | None = None
    reasons: tuple[str, ...] = field(default=())
    triage: bool = False


def corrections(data_dir: Path) -> list[Example]:
    """Operators' corrections exported by ``satukanal route retrain``."""
    path = data_dir / CORRECTIONS_FILE
    if not path.exists():
        return []
    return [
        Example(r["text"], r["category"], r["agency"], r.get("channel")) for r in read_jsonl(path)
    ]


class Router:
    def __init__(
        self,
        settings: Any,
        extra: Iterable[Example] | None = None,
        process: ModelProcess | None = None,
    ) -> None:
        self.enabled = settings.router.enabled
        self.agencies: dict[str, str] = dict(settings.agencies)
        self._known_ids = set(self.agencies.values())
        if extra is None:
            extra = corrections(Path(settings.data_dir))
        self.learned = LearnedRouter.from_settings(settings, extra)
        self.process = process
        self._prepared: dict[str, Decision] = {}

    def detached(self) -> Router:
        """This router for another process (a backfill's workers): the same learned model,
        loaded or fitted here first so that no worker fits it again, routed in-process
        (no model child) and with no prepared decisions."""
        if self.enabled:
            self.learned.model  # noqa: B018 - loaded once, shared with (or pickled to) the copy
        copy = object.__new__(Router)
        copy.__dict__.update(self.__dict__)
        copy.process = None
        copy._prepared = {}
        return copy

    def prepare(self, texts: list[str]) -> None:
        """Route a batch in one model call; ``route`` of these texts then costs nothing.
        Additive, so ingest loops of several sources can interleave; decisions stay for
        ``route`` and ``peek`` (a batch may read one twice) and are dropped past a bound."""
        if not self.enabled or not texts:
            return
        if len(self._prepared) > 20_000:
            self._prepared.clear()
        self._prepared.update(zip(texts, self.learned.route_many(texts), strict=True))

    async def warm(self) -> None:
        """Load or fit the model in a thread: the event loop never waits for a fit."""
        if not self.enabled:
            return
        if self.process is not None:
            await self.process.ready()
        elif not self.learned.ready:
            await asyncio.to_thread(lambda: self.learned.model)

    async def prepare_async(self, texts: list[str]) -> None:
        """``prepare`` off the event loop: the batch's model call runs in a thread while
        intake's database round trips are under way (the loop stays free for them)."""
        if not self.enabled or not texts:
            return
        if self.process is not None:
            decisions = await self.process.route_many(texts)
        elif self.learned.ready:
            decisions = self.learned.route_many(texts)
        else:
            decisions = await asyncio.to_thread(self.learned.route_many, texts)
        if len(self._prepared) > 20_000:
            self._prepared.clear()
        self._prepared.update(zip(texts, decisions, strict=True))

    def peek(self, text: str) -> Decision | None:
        """The model's decision for a prepared text, left in place for ``route``."""
        if not self.enabled:
            return None
        return self._prepared.get(text) or self.learned.route(text)

    def route(self, text: str, default_agency: str | None) -> Route:
        if not self.enabled:
            return Route(default_agency, None, None)
        d = self._prepared.get(text) or self.learned.route(text)
        agency_id = self.agencies.get(d.agency)
        reasons = d.reasons
        if agency_id is None and d.agency in self._known_ids:
            agency_id = d.agency  # the policy already speaks LAPOR!'s ids
        if agency_id is None:
            reasons = (*reasons, f"{d.agency} has no LAPOR! id in [agencies]: channel's agency")
        suggested = default_agency if d.triage or agency_id is None else agency_id
        return Route(
            suggested,
            None,
            f"router: {d.category}/{d.agency} {d.confidence:.2f}",
            d.category,
            d.agency,
            d.confidence,
            reasons,
            d.triage,
        )
