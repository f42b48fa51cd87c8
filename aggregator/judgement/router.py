"""Which agency should handle a complaint, and how sure we are.

``Router.route(text, channel)`` normalises the text, asks the learned model for a
probability over the policy's ``category/AGENCY`` pairs, lets the policy's rules forbid or
force a route, prefers the topic the writer asks to fix first, and returns a
:class:`Decision` with the category, the OPD code, a confidence and the reasons. Below the
configured confidence the decision asks for triage: an operator picks the route on the
dashboard, and that correction is training data for ``satukanal route retrain``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aggregator.judgement import cache
from aggregator.judgement.model import TextModel, corpus, renormalise, top
from aggregator.judgement.normalize import normalize
from aggregator.judgement.policy import RoutingPolicy, routing_policy

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True)
class Decision:
    category: str
    agency: str  # OPD code of the policy
    confidence: float
    reasons: tuple[str, ...] = ()
    triage: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "agency": self.agency,
            "confidence": round(self.confidence, 3),
            "reasons": list(self.reasons),
            "triage": self.triage,
        }


@dataclass(frozen=True)
class Example:
    text: str
    category: str
    agency: str
    channel: str | None = None


def shipped_examples() -> list[Example]:
    rows = corpus("routing_train.jsonl") + corpus("routing_handwritten.jsonl")
    return [Example(r["text"], r["category"], r["agency"], r.get("channel")) for r in rows]


def _text_for_model(text: str) -> str:
    return normalize(text, places=True)


@dataclass
class Router:
    policy: RoutingPolicy
    min_confidence: float = 0.55
    examples: Sequence[Example] = field(default_factory=shipped_examples)
    # Where fitted models are kept across restarts (the data directory); None: the
    # directory set for the process (``cache.set_directory``), or memory only.
    directory: Path | None = None
    _model: TextModel | None = field(default=None, init=False, repr=False)
    _key: str | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Any, extra: Iterable[Example] = ()) -> Router:
        """The router the settings describe; ``extra`` are operators' corrections."""
        policy = routing_policy(settings.router, settings.routing, settings.agencies)
        return cls(
            policy,
            settings.router.min_confidence,
            [*shipped_examples(), *extra],
            Path(settings.data_dir),
        )

    @property
    def key(self) -> str:
        """What the model is fitted from: the policy and the examples (and the code)."""
        if self._key is None:
            self._key = cache.key(
                "router",
                [repr(self.policy)]
                + [json.dumps([e.text, e.category, e.agency]) for e in self.examples],
            )
        return self._key

    @property
    def ready(self) -> bool:
        """The model is at hand: using it costs no fit."""
        return self._model is not None or cache.is_ready("router", self.key)

    @property
    def model(self) -> TextModel:
        """Loaded from the cache of fitted models, or fitted (about a second on one core,
        fixed seed) and cached: every router of a process with the same policy and examples
        shares one. The daemon asks for it in a thread at start-up, off the event loop."""
        if self._model is None:
            self._model = cache.fitted("router", self.key, self.fit, self.directory)
        return self._model

    def fit(self) -> TextModel:
        allowed = set(self.policy.routes)
        rows = [e for e in self.examples if f"{e.category}/{e.agency}" in allowed]
        rows += [Example(k, c.id, a) for c in self.policy.categories for a, k in c.keywords]
        if len({f"{e.category}/{e.agency}" for e in rows}) < 2:
            raise ValueError("the routing corpus does not cover the policy's categories")
        # 25 passes reach the accuracy of 60 on the dev split (bench/route_dev.py) in half
        # the time: the corpus has grown to a few thousand rows.
        return TextModel.fit(
            [_text_for_model(e.text) for e in rows],
            [f"{e.category}/{e.agency}" for e in rows],
            max_iter=25,
        )

    def route(self, text: str, channel: str | None = None) -> Decision:
        """``channel`` is accepted for callers that have it; the model reads the text alone
        (the corpus spans every channel's style)."""
        return self.route_many([text])[0]

    def route_many(self, texts: Sequence[str]) -> list[Decision]:
        """One model call for the texts and for the sentences that say what comes first."""
        norms = [_text_for_model(t) for t in texts]
        clauses = [self._priority_clause(t, n) for t, n in zip(texts, norms, strict=True)]
        extra = [c[0] for c in clauses if c is not None]
        probs = self.model.proba([*norms, *extra])
        first = iter(probs[len(norms) :])
        return [
            self._decide(n, p, (next(first), c[1], c[0]) if c is not None else None)
            for n, p, c in zip(norms, probs, clauses, strict=False)
        ]

    def _priority_clause(self, text: str, norm: str) -> tuple[str, str] | None:
        """The sentence that says what to fix first ("yang utama tolong lampunya dulu")."""
        markers = self.policy.priority
        if markers is None or markers.search(norm) is None:
            return None
        for sent in _SENTENCE.split(text):
            sn = normalize(sent, places=True)
            m = markers.search(sn)
            if m is not None:
                return sn[m.start() :], m.group(0)
        return None

    def _decide(
        self,
        norm: str,
        probs: dict[str, float],
        priority: tuple[dict[str, float], str, str] | None,
    ) -> Decision:
        """``priority``: the model's reading of the sentence that says what to fix first,
        its marker and its text."""
        reasons: list[str] = []
        allowed = set(self.policy.routes)
        for rule in self.policy.rules:
            if rule.forbid is not None and (hit := rule.match(norm)) is not None:
                cat, ag = rule.forbid
                allowed = {r for r in allowed if not _matches(r, cat, ag)}
                said = f": '{hit}'" if hit else ""  # a rule on what the text lacks
                reasons.append(f"rule {rule.name}{said} forbids {cat or ag}")
        probs = renormalise(probs, allowed) or probs
        # What forces a route is read where the matter is: in the sentence the writer asks
        # to fix first, when there is one, not in a topic mentioned on the side.
        scope = norm
        if priority is not None:
            first = renormalise(priority[0], allowed)
            if first and top(first)[1] >= 0.35:
                probs, scope = first, priority[2]
                reasons.append(f"priority: '{priority[1]}'")
        forced: tuple[str | None, str | None] | None = None
        for rule in self.policy.rules:
            if rule.force is not None and (hit := rule.match(scope)) is not None:
                forced = rule.force
                reasons.append(f"rule {rule.name}: '{hit}' forces {rule.force[0] or rule.force[1]}")
                break
        route, confidence = top(probs)
        category, agency = route.split("/", 1)
        reasons.insert(0, f"model: {route} {confidence:.2f}")
        if forced is not None:
            category, agency, confidence = self._apply_force(forced, probs, category, agency)
        runner = sorted(probs.items(), key=lambda kv: -kv[1])[1:2]
        if runner and forced is None:
            reasons.append(f"next: {runner[0][0]} {runner[0][1]:.2f}")
        triage = confidence < self.min_confidence and forced is None
        if triage:
            reasons.append(f"below {self.min_confidence:.2f}: triage")
        return Decision(category, agency, confidence, tuple(reasons), triage)

    def _apply_force(
        self,
        forced: tuple[str | None, str | None],
        probs: dict[str, float],
        category: str,
        agency: str,
    ) -> tuple[str, str, float]:
        cat, ag = forced
        candidates = {r: p for r, p in probs.items() if _matches(r, cat, ag)}
        if candidates:
            route, _ = top(candidates)
            c, a = route.split("/", 1)
            return c, (ag or a), 1.0
        return (cat or category), (ag or agency), 1.0


def _matches(route: str, category: str | None, agency: str | None) -> bool:
    c, a = route.split("/", 1)
    return (category is None or c == category) and (agency is None or a == agency)
