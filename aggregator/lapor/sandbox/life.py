"""Each report's life, drawn deterministically from the sandbox seed and its Tracking ID.

A life is a list of steps; ``after`` is how many life units after the previous step it
happens (a unit is a second with ``--life fast``, an hour with ``--life realtime``). Its
script (a real follow-up, boilerplate, forwarding, …) is drawn with realistic weights, or
taken from a fixed story (the demo plays every script in turn).
"""

from __future__ import annotations

import random
from typing import Any

from aggregator.lapor.sandbox.data import CATEGORIES

Step = dict[str, Any]

_CATEGORY_AGENCY = {cid: agency for cid, _name, _parent, agency in CATEGORIES}
_LEAF_CATEGORIES = [(cid, a) for cid, _n, parent, a in CATEGORIES if parent is not None]
SCRIPTS = ("real", "boilerplate", "forwarded", "info", "hold", "archive", "not_ours", "deleted")
# The demo's story: every kind of response a citizen may get, and an end for each report.
DEMO_STORY = ("real", "boilerplate", "forwarded", "real", "info", "boilerplate", "real", "not_ours")


def _agency_for(report: dict[str, Any], rng: random.Random) -> str:
    agency = report.get("suggested_agency_id") or _CATEGORY_AGENCY.get(
        report.get("category_id") or "", ""
    )
    return agency or rng.choice(["45", "46", "47", "48", "51", "53", "60", "61"])


def draw_life(seed: int, report: dict[str, Any], script: str | None = None) -> list[Step]:
    rng = random.Random(f"{seed}:{report['tracking_id']}")  # noqa: S311 - reproducible
    agency = _agency_for(report, rng)
    verify: list[Step] = [{"after": 1, "do": "status", "status": "terverifikasi"}]
    # A verifier may move a report to another of the same agency's categories.
    same_agency = [cid for cid, a in _LEAF_CATEGORIES if a == agency]
    if rng.random() < 0.3 and same_agency:
        verify.append({"after": 0, "do": "reclassify", "category_id": rng.choice(same_agency)})
    dispose: list[Step] = [
        {"after": 1, "do": "dispose", "agency_id": agency},
        {"after": 1, "do": "status", "status": "diproses"},
    ]
    close: list[Step] = [
        {"after": 0, "do": "status", "status": "ditindaklanjuti"},
        {"after": 3, "do": "auto_close"},
    ]
    if rng.random() < 0.4:
        close.append({"after": 1, "do": "rate", "rating": rng.randint(1, 5)})
    drawn = rng.choices(SCRIPTS, weights=[30, 20, 12, 12, 8, 7, 6, 5])[0]
    if script is not None and script not in SCRIPTS:
        raise ValueError(f"unknown life script {script!r}; known: {', '.join(SCRIPTS)}")
    script = script or drawn
    if script == "real":
        steps = (
            verify
            + dispose
            + [
                {"after": 1, "do": "respond", "kind": "acknowledgement"},
                {"after": 2, "do": "respond", "kind": "evidence"},
            ]
            + close
        )
    elif script == "boilerplate":
        steps = (
            verify + dispose + [{"after": 1, "do": "respond", "kind": "acknowledgement"}] + close
        )
    elif script == "forwarded":
        # First assigned to the kecamatan, which passes it to the agency whose work it is.
        first = rng.choice([a for a in ("60", "61", "62") if a != agency])
        steps = [
            *verify,
            {"after": 1, "do": "dispose", "agency_id": first},
            {"after": 1, "do": "status", "status": "diproses"},
            {"after": 1, "do": "respond", "kind": "forwarded", "to": agency},
            {"after": 1, "do": "dispose", "agency_id": agency},
            {"after": 1, "do": "status", "status": "diproses"},
            {"after": 2, "do": "respond", "kind": "substantive"},
            *close,
        ]
    elif script == "info":
        steps = (
            verify
            + dispose
            + [
                {"after": 1, "do": "info_request"},
                {"after": 4, "do": "await_reply"},
                {"after": 1, "do": "respond", "kind": "evidence"},
            ]
            + close
        )
    elif script == "hold":
        steps = [
            {"after": 1, "do": "status", "status": "tertunda"},
            {"after": 4, "do": "status", "status": "arsip"},
        ]
    elif script == "archive":
        steps = [{"after": 2, "do": "status", "status": "arsip"}]
    elif script == "not_ours":
        steps = [
            *verify,
            {"after": 1, "do": "dispose", "agency_id": agency},
            {"after": 1, "do": "status", "status": "bukan_wewenang"},
        ]
    else:
        steps = [{"after": 2, "do": "delete"}]
    for step in steps:
        step["script"] = script
    return steps
