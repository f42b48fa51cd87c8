"""Three replicas under chaos at full size (issue 18 item 2), the test's harness at 2,000.

    .venv/bin/python bench/chaos.py [--complaints N] [--rate R] [--arrival-s S] [--small]

Three `satukanal run` processes on one PostgreSQL the bench starts itself (embedded, its own
folder); 2,000 complaints (--small 300) arrive over ``--arrival-s`` seconds by SMS webhook,
web form, e-mail (Maildir) and WhatsApp (Cloud API sandbox) through a balancer; replicas are
SIGKILLed and restarted at random and PostgreSQL is crash-stopped and started again once;
the LAPOR! sandbox (its own process, judging arrivals on its own clock) injects 10 % 5xx,
3 % dropped connections, 3 % creates left hanging and revokes every token every 50
requests, and limits the client to R requests/s (default 10, burst 6); complaints arrive
at 0.8 R per second. See tests/support/chaos.py.

The outcome is read from the sandbox's own record and the channels' own stores:
``exactly_once`` = one LAPOR! report per complaint, no raw item lost or doubled, one
acknowledgement per complaint on its channel; ``max_requests_in_a_second`` against
``rate_limit_per_s`` + ``client_burst`` (a GCRA bucket lets burst + rate × 1 s through in
any second) + one per replica (a token fetch after a revocation goes at once, charged to the
schedule after it) + 2 for arrival jitter; ``rate_ok`` says whether it held and LAPOR!
answered no 429 (``transit_ms`` and ``max_slots_in_a_second``, from the replicas' slot
times, say whether a breach was theirs or the sandbox's reading). The last
line of output is one JSON object with every count.
"""

# ruff: noqa: E402 - sys.path is fixed before the other imports
from __future__ import annotations

import os
import sys

# Run as ``python bench/chaos.py``, this directory comes first on sys.path, where
# bench/email.py and bench/queue.py would shadow the standard library.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
sys.path.insert(0, os.path.dirname(_HERE))

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from aggregator.logging import configure_logging
from tests.support.chaos import ChaosConfig, cleanup, run_chaos

JITTER = 2


async def main() -> int:
    configure_logging("warning", "console")
    parser = argparse.ArgumentParser()
    parser.add_argument("--complaints", type=int, default=None)
    parser.add_argument("--small", action="store_true", help="300 complaints, as the test")
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--arrival-s", type=float, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the logs and stores")
    args = parser.parse_args()
    n = args.complaints or (300 if args.small else 2000)
    # Arrivals a little under the limit: pushes keep up, and every kill, the database's
    # restart and the faults' retries pile up a backlog that then drains at the limit.
    arrival = args.arrival_s or max(30.0, n / (args.rate * 0.8))
    cfg = ChaosConfig(
        complaints=n,
        rate_per_s=args.rate,
        burst=max(2, int(args.rate * 0.6)),
        arrival_s=arrival,
        pg_restart_at_s=arrival / 2,
        settle_timeout_s=max(240.0, n / args.rate * 2),
    )
    root = Path(tempfile.mkdtemp(prefix="satukanal-chaos-"))
    started = time.monotonic()
    try:
        out = await run_chaos(cfg, root, say=lambda s: print(s, flush=True))
    finally:
        if not args.keep:
            cleanup(root)
    c = out.counts
    limit = cfg.rate_per_s + c["client_burst"] + cfg.replicas + JITTER
    result = {
        "bench": "chaos",
        "exactly_once": not out.problems,
        "problems": out.problems,
        "rate_ok": c["max_requests_in_a_second"] <= limit and c["lapor_rate_limited"] == 0,
        "rate_tolerance": limit,
        "elapsed_s": round(time.monotonic() - started, 1),
        **c,
    }
    if args.keep:
        result["kept"] = str(root)
    print(
        f"{c['complaints']} complaints ({c['sms']} SMS, {c['forms_ok']} forms, {c['email']} "
        f"e-mails, {c['wa']} WhatsApp), {c['reports']} LAPOR! reports, "
        f"{c['sigkills']} SIGKILLs, PostgreSQL restarted: {c['pg_restarted']}; busiest second "
        f"{c['max_requests_in_a_second']} requests (limit {cfg.rate_per_s} + burst "
        f"{c['client_burst']}); problems: {out.problems or 'none'}",
        flush=True,
    )
    print(json.dumps(result))
    return 0 if result["exactly_once"] and result["rate_ok"] else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
