"""Issue 18 item 2: three replicas on one database, under chaos, exactly once.

Three `satukanal run` processes share a PostgreSQL the test starts itself; complaints arrive
by SMS webhook, web form, e-mail (Maildir) and WhatsApp (Cloud API sandbox) through a
balancer; replicas are SIGKILLed and restarted at random, PostgreSQL is crash-stopped and
started again once, and the LAPOR! sandbox injects 5xx, dropped connections, creates left
hanging and token revocations (tests/support/chaos.py has the harness; bench/chaos.py runs
it at 2,000 complaints).

The outcome is read from the sandbox's own record and the channels' own stores: exactly
one LAPOR! report per complaint, no raw item lost or stored twice, one acknowledgement per
complaint on its channel (never two; where the channel cannot recognise a resend, one cut
off by a SIGKILL mid-hand-over is recorded in doubt and not sent again), and LAPOR! never
received more requests in a second than its limit allows the client: ``rate_per_s`` plus
the client's burst (half LAPOR!'s: a GCRA bucket lets at most burst + rate × window through
in any window), plus one per replica (a token fetch after a revocation goes at once and is
charged to the schedule after it), plus 2 for arrival jitter (requests released at the end
of one second that reach LAPOR! in the next), and never answered one 429.

The LAPOR! sandbox runs in its own process, as LAPOR! does: in this busy test process
(balancer, Cloud API sandbox, Kannel, the citizens) it read arrivals late and in bunches
on a loaded machine and refused requests the replicas had sent on schedule. Every replica
sends the time it took each request's slot (``lapor.send_slot_time``), so the counts also
say how long requests took from slot to LAPOR!'s clock (``transit_ms``) and the busiest
second by the replicas' own schedule (``max_slots_in_a_second``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.chaos import ChaosConfig, run_chaos

JITTER = 2


@pytest.mark.slow
@pytest.mark.timeout(420)
async def test_three_replicas_through_sigkills_and_a_database_restart(tmp_path: Path) -> None:
    cfg = ChaosConfig(complaints=300)
    out = await run_chaos(cfg, tmp_path / "chaos")
    c = out.counts
    print("chaos counts:", c)
    assert out.problems == [], (out.problems, c)
    assert c["sigkills"] >= 4 and c["pg_restarted"]
    assert c["lapor_injected_5xx"] > 0 and c["lapor_dropped"] > 0
    # Every channel carried complaints, and all of them reached LAPOR! once.
    assert c["sms"] and c["email"] and c["wa"] and c["forms_ok"]
    assert c["reports"] == c["complaints"] >= c["sms"] + c["email"] + c["wa"] + c["forms_ok"]
    assert c["reports_per_complaint_max"] == 1 and c["raw_lost"] == 0
    # One acknowledgement per complaint, never two. Kannel and the Cloud API cannot recognise
    # a resend: a SIGKILL between handing one over and recording it leaves it in doubt, and
    # it is not sent again (at most once, recorded, on the operator's screen); the e-mail
    # outbox recognises a resend, so every e-mail acknowledgement arrives.
    assert c["ack_problems"] == {"twice": 0, "missing_not_in_doubt": 0, "unknown_recipients": 0}
    assert c["acks_missing"]["email"] == 0 and c["acks_email"] == c["email"]
    assert c["acks_sms"] + c["acks_missing"]["sms-gw"] == c["sms"]
    assert c["acks_wa"] + c["acks_missing"]["wa"] == c["wa"]
    assert sum(c["acks_missing"].values()) <= c["sigkills"]
    assert c["dead_jobs"] == 0
    # The limit held across the replicas, and was reached (it was what bounded the pushes).
    allowed = cfg.rate_per_s + c["client_burst"] + cfg.replicas + JITTER
    assert c["max_requests_in_a_second"] <= allowed, c
    assert c["lapor_rate_limited"] == 0
    assert c["seconds_at_limit"] >= 5
