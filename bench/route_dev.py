"""Dev figures for the router: grouped cross-validation on the TRAINING corpus only.

The held-out corpus (tests/data/routing/holdout*.jsonl) is for the final figure, never for
tuning; this is what work on the router is measured with. The shipped training rows are
split into five folds by the bank phrase they wrap (their ``group``) and, apart, by their
wrapper (template); a fold trains on rows sharing neither its phrases nor its wrappers and
is tested on rows made of both, so its test rows are wordings and framings its model has
not seen, as the held-out corpus's are. Hand-written rows are dealt out by line. Each fold
fits the real ``Router`` (policy, rules, priority clauses); the figure is averaged over
``--repeats`` fold assignments. Prints the misses with ``--misses`` and one JSON object last.

    .venv/bin/python bench/route_dev.py [--folds 5] [--repeats 3] [--misses]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aggregator.judgement.model import corpus  # noqa: E402
from aggregator.judgement.policy import routing_policy  # noqa: E402
from aggregator.judgement.router import Example, Router  # noqa: E402

_INDEX = re.compile(r"#(?:en|v)?(\d+)$")


def fold_of(row: dict, line: int, folds: int, rep: int = 0) -> int:
    group = row.get("group")
    if group is None:
        return (line + rep) % folds
    m = _INDEX.search(group)
    # phrases of one route spread over the folds; English ones shifted so a fold is not
    # both a route's first Indonesian and first English phrase
    shift = 2 if "#en" in group else 0
    return (int(m.group(1)) + shift + 3 * rep) % folds if m else (line + rep) % folds


def wrapper_fold(row: dict, phrase_fold: int, folds: int, rep: int = 0) -> int:
    """Wrappers ("sms3", "web1") are dealt out to folds too; rows without one (mixed and
    hand-written complaints) go with their phrase fold."""
    w = row.get("wrapper")
    if w is None:
        return phrase_fold
    m = re.search(r"(\d+)$", w)
    return (int(m.group(1)) + len(w) + rep) % folds if m else phrase_fold


def rows_with_folds(folds: int, rep: int = 0) -> list[tuple[int, int, dict]]:
    out: list[tuple[int, int, dict]] = []
    for name in ("routing_train.jsonl", "routing_handwritten.jsonl", "routing_varied.jsonl"):
        try:
            rows = corpus(name)
        except FileNotFoundError:
            continue
        for i, r in enumerate(rows):
            pf = fold_of(r, i, folds, rep)
            out.append((pf, wrapper_fold(r, pf, folds, rep), r))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--misses", action="store_true")
    ap.add_argument(
        "--repeats", type=int, default=3, help="fold assignments to average over (less noise)"
    )
    args = ap.parse_args()
    policy = routing_policy()
    n = cat_ok = ag_ok = 0
    by_route: Counter[str] = Counter()
    misses: list[str] = []
    for rep, k in [(rep, k) for rep in range(args.repeats) for k in range(args.folds)]:
        data = rows_with_folds(args.folds, rep)
        train = [
            Example(r["text"], r["category"], r["agency"], r.get("channel"))
            for pf, wf, r in data
            if pf != k and wf != k
        ]
        # test rows: neither their phrase nor their wrapper was seen in training
        test = [r for pf, wf, r in data if pf == k and wf == k]
        got = Router(policy, examples=train).route_many([r["text"] for r in test])
        for d, r in zip(got, test, strict=True):
            n += 1
            cat_ok += d.category == r["category"]
            ag_ok += d.agency == r["agency"]
            if (d.category, d.agency) != (r["category"], r["agency"]):
                by_route[f"{r['category']}/{r['agency']}"] += 1
                misses.append(
                    f"{r['category']}/{r['agency']} -> {d.category}/{d.agency}: {r['text'][:110]!r}"
                )
    if args.misses:
        for m in misses:
            print(m, file=sys.stderr)
        print(dict(by_route.most_common()), file=sys.stderr)
    print(
        json.dumps(
            {
                "bench": "route_dev",
                "folds": args.folds,
                "repeats": args.repeats,
                "n": n,
                "category": round(cat_ok / n, 3),
                "agency": round(ag_ok / n, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
