"""A component's state from its recorded outcomes: a pure function, tested on its own."""

from __future__ import annotations

import datetime as dt
from typing import Any

UNKNOWN, OK, DEGRADED, FAILING, STALE = "unknown", "ok", "degraded", "failing", "stale"

LABELS = {
    UNKNOWN: "belum diketahui",
    OK: "baik",
    DEGRADED: "terganggu",
    FAILING: "gagal",
    STALE: "tidak berjalan",
}


def component_state(
    row: dict[str, Any] | None,
    now: dt.datetime,
    *,
    failures_to_fail: int,
    stale_after_s: float | None = None,
) -> str:
    """``unknown`` until the first attempt; ``failing`` when a human must act or after
    ``failures_to_fail`` failures in a row; ``degraded`` after fewer; ``stale`` when the
    component should have been tried (or have succeeded) by now and was not; else ``ok``."""
    if row is None or row.get("last_attempt_at") is None:
        if (
            stale_after_s is not None
            and row is not None
            and row.get("registered_at")
            and (now - row["registered_at"]).total_seconds() > stale_after_s
        ):
            return STALE
        return UNKNOWN
    if row.get("needs_human") or row["consecutive_failures"] >= failures_to_fail:
        return FAILING
    if row["consecutive_failures"] > 0:
        return DEGRADED
    interval = row.get("expected_interval_s")
    if interval and (now - row["last_attempt_at"]).total_seconds() > max(
        3 * interval, interval + 120
    ):
        return STALE
    if (
        stale_after_s is not None
        and row.get("last_success_at") is not None
        and (now - row["last_success_at"]).total_seconds() > stale_after_s
    ):
        return STALE
    return OK
