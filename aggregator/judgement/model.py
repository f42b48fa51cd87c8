"""The learned-model plumbing, in one place: a linear model over word and character n-grams.

Small and CPU-only on purpose: a few thousand sparse features, a logistic regression fitted
in about a second on the corpora the package ships, with a fixed seed so two starts give the
same model. Nothing is downloaded; models are fitted at first use from the repository's own
data (plus operators' corrections, see ``satukanal route retrain``) and kept in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import SGDClassifier

SEED = 14


def corpus(name: str) -> list[dict[str, Any]]:
    """A JSON-lines corpus shipped in ``aggregator/judgement/corpus``."""
    text = resources.files("aggregator.judgement").joinpath(f"corpus/{name}").read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


@dataclass
class TextModel:
    """Text (already normalised) plus optional dense features → a probability per label."""

    words: TfidfVectorizer
    chars: TfidfVectorizer
    clf: SGDClassifier
    dense_scale: float = 1.0
    # numpy forms of the two fitted vectorisers' transform (same matrices, see fast.py)
    _fast: tuple[Any, Any] | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        dense: Sequence[Sequence[float]] | None = None,
        *,
        c: float = 30.0,
        dense_scale: float = 1.0,
        class_weight: str | dict[str, float] | None = "balanced",
        max_iter: int = 60,
    ) -> TextModel:
        words = TfidfVectorizer(
            analyzer="word",
            ngram_range=(1, 2),
            min_df=1,
            sublinear_tf=True,
            token_pattern=r"(?u)\b\w+\b|[?!]",  # noqa: S106 - a regex, not a password
        )
        chars = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(3, 4), min_df=2, sublinear_tf=True, max_features=40000
        )
        model = cls(
            words,
            chars,
            SGDClassifier(
                loss="log_loss",
                alpha=1.0 / (c * len(texts)),
                max_iter=max_iter,
                tol=None,
                random_state=SEED,
                class_weight=class_weight,
                average=True,
            ),
            dense_scale,
        )
        x = sparse.hstack(
            [
                words.fit_transform(texts),
                chars.fit_transform(texts),
                model._dense(dense, len(texts)),
            ]
        ).tocsr()
        model.clf.fit(x, list(labels))
        return model

    def _dense(self, dense: Sequence[Sequence[float]] | None, n: int) -> sparse.csr_matrix:
        if dense is None:
            return sparse.csr_matrix((n, 0))
        return sparse.csr_matrix(np.asarray(dense, dtype=float) * self.dense_scale)

    @property
    def labels(self) -> list[str]:
        return [str(c) for c in self.clf.classes_]

    def features(
        self, texts: Sequence[str], dense: Sequence[Sequence[float]] | None = None
    ) -> sparse.csr_matrix:
        if self._fast is None:
            from aggregator.judgement.fast import FastCharWb, FastWords

            self._fast = (FastWords(self.words), FastCharWb(self.chars))
        words, chars = self._fast
        return sparse.hstack(
            [words.transform(texts), chars.transform(texts), self._dense(dense, len(texts))]
        ).tocsr()

    def proba_matrix(
        self, texts: Sequence[str], dense: Sequence[Sequence[float]] | None = None
    ) -> np.ndarray:
        """One row per text, one column per label (``labels``' order)."""
        return self.clf.predict_proba(self.features(texts, dense))  # type: ignore[no-any-return]

    def proba(
        self, texts: Sequence[str], dense: Sequence[Sequence[float]] | None = None
    ) -> list[dict[str, float]]:
        labels = self.labels
        return [
            dict(zip(labels, row.tolist(), strict=True)) for row in self.proba_matrix(texts, dense)
        ]


def top(probs: dict[str, float]) -> tuple[str, float]:
    label = max(probs, key=probs.__getitem__)
    return label, probs[label]


def renormalise(probs: dict[str, float], keep: Iterable[str]) -> dict[str, float]:
    kept = {k: probs[k] for k in keep if k in probs}
    total = sum(kept.values())
    return {k: v / total for k, v in kept.items()} if total > 0 else kept
