"""The municipality's written policy as data: routing.toml and followup.toml.

The package ships a default of each (``aggregator/judgement/policy/``); a city points
``[router] policy`` or ``[followup] policy`` at its own file of the same shape, and adds
rules in the settings. Loading is pure: text in, frozen dataclasses out.
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from aggregator.judgement.normalize import normalize
from schemas.config import RouterConfig, RouterRule, RoutingRule


class PolicyError(ValueError):
    """A policy file that cannot be used (the daemon refuses to start with it)."""


@dataclass(frozen=True)
class Category:
    id: str
    name: str
    agency: str  # default OPD code
    alternatives: tuple[str, ...] = ()  # other OPD codes the situation may decide
    keywords: tuple[tuple[str, str], ...] = ()  # (OPD code, phrase): vocabulary the model learns

    @property
    def agencies(self) -> tuple[str, ...]:
        return (self.agency, *self.alternatives)


@dataclass(frozen=True)
class Rule:
    name: str
    patterns: tuple[re.Pattern[str], ...]
    force: tuple[str | None, str | None] | None  # (category, agency)
    forbid: tuple[str | None, str | None] | None

    def match(self, norm: str) -> str | None:
        m = _any(self.patterns).search(norm)
        return m.group(0) if m else None


@dataclass(frozen=True)
class RoutingPolicy:
    categories: tuple[Category, ...]
    rules: tuple[Rule, ...] = ()
    priority_markers: tuple[re.Pattern[str], ...] = ()
    fallback: str = "lainnya"

    @property
    def priority(self) -> re.Pattern[str] | None:
        return _any(self.priority_markers) if self.priority_markers else None

    def category(self, cid: str) -> Category | None:
        return next((c for c in self.categories if c.id == cid), None)

    @property
    def routes(self) -> list[str]:
        """Every allowed ``category/AGENCY`` pair, the model's label set."""
        return [f"{c.id}/{a}" for c in self.categories for a in c.agencies]


@functools.lru_cache(maxsize=256)
def _any(patterns: tuple[re.Pattern[str], ...]) -> re.Pattern[str]:
    """One alternation for many patterns: a single scan of the text."""
    return re.compile("|".join(f"(?:{p.pattern})" for p in patterns), re.I)


def phrase_pattern(phrase: str) -> re.Pattern[str]:
    if phrase.startswith("re:"):
        return re.compile(phrase[3:], re.I)
    norm = normalize(phrase)
    return re.compile(r"\b" + re.escape(norm) + r"\b", re.I)


def _target(raw: Any, where: str) -> tuple[str | None, str | None]:
    if not isinstance(raw, dict) or not (raw.get("category") or raw.get("agency")):
        raise PolicyError(f"{where}: force/forbid needs a category or an agency")
    return raw.get("category"), raw.get("agency")


def _rule(raw: dict[str, Any], where: str) -> Rule:
    when = raw.get("when")
    if isinstance(when, str):
        when = [when]
    if not when:
        raise PolicyError(f"{where}: a rule needs 'when' phrases")
    force, forbid = raw.get("force"), raw.get("forbid")
    if (force is None) == (forbid is None):
        raise PolicyError(f"{where}: a rule either forces or forbids a route")
    return Rule(
        name=str(raw.get("name") or where),
        patterns=tuple(phrase_pattern(w) for w in when),
        force=_target(force, where) if force is not None else None,
        forbid=_target(forbid, where) if forbid is not None else None,
    )


def parse_routing(text: str, origin: str = "routing.toml") -> RoutingPolicy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{origin}: {exc}") from exc
    cats = []
    for i, raw in enumerate(data.get("category", [])):
        try:
            cats.append(
                Category(
                    id=raw["id"],
                    name=raw.get("name", raw["id"]),
                    agency=raw["agency"],
                    alternatives=tuple(a["agency"] for a in raw.get("alternative", [])),
                    keywords=tuple(
                        [(raw["agency"], k) for k in raw.get("keywords", [])]
                        + [
                            (a["agency"], k)
                            for a in raw.get("alternative", [])
                            for k in a.get("keywords", [])
                        ]
                    ),
                )
            )
        except (KeyError, TypeError) as exc:
            raise PolicyError(f"{origin}: category #{i + 1} needs id and agency") from exc
    if len(cats) < 2:
        raise PolicyError(f"{origin}: a routing policy needs at least two categories")
    if len({c.id for c in cats}) != len(cats):
        raise PolicyError(f"{origin}: a category id is listed twice")
    rules = tuple(_rule(r, f"{origin}: rule #{i + 1}") for i, r in enumerate(data.get("rule", [])))
    markers = data.get("priority", {}).get("markers", [])
    fallback = data.get("fallback", cats[-1].id)
    policy = RoutingPolicy(tuple(cats), rules, tuple(phrase_pattern(m) for m in markers), fallback)
    _check_rules(policy, rules, origin)
    return policy


def _check_rules(policy: RoutingPolicy, rules: tuple[Rule, ...], origin: str) -> None:
    ids = {c.id for c in policy.categories}
    for r in rules:
        for target in (r.force, r.forbid):
            if target and target[0] and target[0] not in ids:
                raise PolicyError(f"{origin}: rule {r.name} names unknown category {target[0]!r}")


def shipped(name: str) -> str:
    return resources.files("aggregator.judgement.policy").joinpath(name).read_text("utf-8")


def routing_policy(
    cfg: RouterConfig | None = None,
    legacy: list[RoutingRule] | None = None,
    agencies: dict[str, str] | None = None,
) -> RoutingPolicy:
    """The policy in force: the city's file or the shipped one, plus the settings' rules.

    ``legacy`` are the ``[[routing]]`` keyword rules of older settings files: each forces
    its agency when a keyword appears. Their agency was already resolved to LAPOR!'s id by
    the settings, so ``agencies`` (code → id) turns it back into the OPD code."""
    cfg = cfg or RouterConfig()
    if cfg.policy is not None:
        path = Path(cfg.policy)
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise PolicyError(f"router policy {path}: {exc.strerror}") from exc
        policy = parse_routing(text, str(path))
    else:
        policy = parse_routing(shipped("routing.toml"))
    extra = [_from_settings(r, i) for i, r in enumerate(cfg.rules)]
    by_id = {v: k for k, v in (agencies or {}).items()}
    for i, old in enumerate(legacy or []):
        if old.keywords:
            extra.append(
                Rule(
                    name=f"routing #{i + 1}",
                    patterns=tuple(phrase_pattern(k) for k in old.keywords),
                    force=(
                        old.category if policy.category(old.category or "") else None,
                        by_id.get(old.agency, old.agency),
                    ),
                    forbid=None,
                )
            )
    if extra:
        _check_rules(policy, tuple(extra), "settings [router]")
        policy = RoutingPolicy(
            policy.categories, (*policy.rules, *extra), policy.priority_markers, policy.fallback
        )
    return policy


def _from_settings(r: RouterRule, i: int) -> Rule:
    def t(x: Any) -> tuple[str | None, str | None] | None:
        return None if x is None else (x.category, x.agency)

    return Rule(
        name=r.name or f"router.rules #{i + 1}",
        patterns=tuple(phrase_pattern(w) for w in r.when),
        force=t(r.force),
        forbid=t(r.forbid),
    )


@dataclass(frozen=True)
class FollowupPolicy:
    """followup.toml: the five labels in precedence order and the phrases that signal them."""

    precedence: tuple[str, ...]
    phrases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    min_substantive: float = 0.5


LABELS = (
    "info_request",
    "substantive_with_evidence",
    "substantive",
    "forwarded",
    "acknowledgement",
)


def parse_followup(text: str, origin: str = "followup.toml") -> FollowupPolicy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{origin}: {exc}") from exc
    order = tuple(data.get("precedence", LABELS))
    if sorted(order) != sorted(LABELS):
        raise PolicyError(f"{origin}: precedence must list the five labels {LABELS}")
    phrases = {k: tuple(v) for k, v in data.get("phrases", {}).items()}
    return FollowupPolicy(order, phrases, float(data.get("min_substantive", 0.5)))


def followup_policy(path: Path | None = None) -> FollowupPolicy:
    if path is None:
        return parse_followup(shipped("followup.toml"))
    try:
        return parse_followup(Path(path).read_text("utf-8"), str(path))
    except OSError as exc:
        raise PolicyError(f"followup policy {path}: {exc.strerror}") from exc
