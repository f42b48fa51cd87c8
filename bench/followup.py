"""Benchmark: the follow-up labeller — held-out macro-F1, boilerplate passed, throughput.

Accuracy on the held-out reply sets of tests/data/followup (never trained on): macro-F1 over
the five labels and the share of acknowledgements called substantive (the costly mistake).
Throughput: replies/s on one core, one at a time (as the LAPOR! feed calls it, without its
per-text cache) and in batches. The cost to intake is nil by construction (labelling runs
where agency replies arrive, the updates loop and webhook, not in intake); bench/updates.py
measures that path. ``--small`` repeats the held-out set fewer times. Prints one JSON object
on its last line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sklearn.metrics import f1_score  # noqa: E402

from aggregator.judgement.labeller import Labeller  # noqa: E402
from aggregator.judgement.model import read_jsonl  # noqa: E402

DATA = ROOT / "tests" / "data" / "followup"
HOLDOUTS = (
    "generated_holdout.jsonl",
    "labelled_holdout.jsonl",
    "labelled_holdout_2.jsonl",
    "holdout_handwritten.jsonl",
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--small", action="store_true")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    t0 = time.perf_counter()
    labeller = Labeller()
    labeller.model  # noqa: B018
    fit_s = time.perf_counter() - t0
    sets = {}
    everything: list[dict] = []
    for name in HOLDOUTS:
        rows = read_jsonl(DATA / name)
        everything += rows
        got = [
            lab.value
            for lab, _ in labeller.classify_many([(r["text"], r["attachments"]) for r in rows])
        ]
        sets[name.removesuffix(".jsonl")] = round(
            f1_score([r["label"] for r in rows], got, average="macro"), 3
        )
    items = [(r["text"], r["attachments"]) for r in everything]
    got = [lab.value for lab, _ in labeller.classify_many(items)]
    truth = [r["label"] for r in everything]
    acks = [g for g, t in zip(got, truth, strict=True) if t == "acknowledgement"]
    passed = sum(g.startswith("substantive") for g in acks)
    reps = 1 if args.small else 5
    t0 = time.perf_counter()
    for _ in range(reps):
        for text, att in items:
            labeller.classify(text, att)
    single = reps * len(items) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for _ in range(reps):
        labeller.classify_many(items)
    batched = reps * len(items) / (time.perf_counter() - t0)
    out = {
        "bench": "followup",
        "fit_s": round(fit_s, 2),
        "n": len(items),
        "macro_f1": round(f1_score(truth, got, average="macro"), 3),
        "per_set": sets,
        "acknowledgements": len(acks),
        "acknowledgement_called_substantive": passed,
        "ack_to_substantive_rate": round(passed / len(acks), 4),
        "single_per_s": round(single, 1),
        "batched_per_s": round(batched, 1),
    }
    print(
        f"macro-F1 {out['macro_f1']} on {len(items)} held-out replies; "
        f"{passed}/{len(acks)} acknowledgements called substantive",
        file=sys.stderr,
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
