"""Suggest the agency (OPD) for a complaint from configured keyword rules.

The first rule whose keyword appears in the title or text wins; with no match the OPD that
owns the source channel is suggested; LAPOR!'s verifier decides in the end.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from schemas.config import RoutingRule


@dataclass(frozen=True)
class Route:
    agency: str | None
    category: str | None
    rule: str | None  # the keyword that matched, for the timeline


class Router:
    def __init__(self, rules: Sequence[RoutingRule]) -> None:
        self._rules = [
            (rule, [re.compile(rf"\b{re.escape(k.lower())}", re.IGNORECASE) for k in rule.keywords])
            for rule in rules
        ]

    def route(self, text: str, default_agency: str | None) -> Route:
        for rule, patterns in self._rules:
            for pat in patterns:
                if pat.search(text):
                    return Route(rule.agency, rule.category, pat.pattern.removeprefix(r"\b"))
        return Route(default_agency, None, None)
