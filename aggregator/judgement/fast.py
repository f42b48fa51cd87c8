"""The fitted vectorisers' ``transform``, computed for a whole batch with numpy.

scikit-learn's ``TfidfVectorizer.transform`` walks every n-gram of every text in Python;
on intake's hot path that costs more than the rest of the model together. These classes
are built from a *fitted* vectoriser and give the same matrix (the tests compare them on
the corpora): the same vocabulary, tf, idf and norm, so the fitted classifier is reused
unchanged. Nothing here learns anything.

Character n-grams (``char_wb``, 3–4): each text becomes `` w1 w2 … `` (one space around each
word); a window of the batch's code points is a gram of one padded word exactly when no
space lies strictly inside it, and a window spanning two texts always does. A gram is
looked up by a 64-bit polynomial hash of its code points and length (a collision among a
vocabulary of tens of thousands of grams is a 1-in-10^14 event).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.utils.sparsefuncs_fast import inplace_csr_row_normalize_l2

_M = np.uint64(0x9E3779B97F4A7C15)
_MASK = (1 << 64) - 1


def _gram_code(gram: str) -> int:
    h = 0
    for ch in gram:
        h = (h * int(_M) + ord(ch)) & _MASK
    return (h * int(_M) + len(gram)) & _MASK


def _finish(
    rows: np.ndarray, cols: np.ndarray, n: int, width: int, idf: np.ndarray, sublinear: bool
) -> sparse.csr_matrix:
    """Counts of (text, column) pairs → tf-idf rows with unit norm, as sklearn computes."""
    keys, counts = np.unique(rows * width + cols, return_counts=True)
    r, c = np.divmod(keys, width)
    data = counts.astype(np.float64)
    if sublinear:
        np.log(data, data)
        data += 1.0
    data *= idf[c]
    indptr = np.searchsorted(r, np.arange(n + 1))
    x = sparse.csr_matrix((data, c, indptr), shape=(n, width))
    x.has_sorted_indices = True
    # the kernel sklearn's normalize(norm="l2") runs, without its per-call validation
    # (a millisecond per batch, as much as the arithmetic)
    inplace_csr_row_normalize_l2(x)
    return x


class FastCharWb:
    """``transform`` of a fitted ``TfidfVectorizer(analyzer="char_wb", ngram_range=(a, b))``."""

    def __init__(self, vectorizer: Any) -> None:
        if vectorizer.analyzer != "char_wb" or vectorizer.norm != "l2":
            raise ValueError("FastCharWb reads char_wb vectorisers with l2 norm only")
        self.lo, self.hi = vectorizer.ngram_range
        self.lowercase = bool(vectorizer.lowercase)
        self.sublinear = bool(vectorizer.sublinear_tf)
        vocab: dict[str, int] = vectorizer.vocabulary_
        codes = np.fromiter((_gram_code(g) for g in vocab), dtype=np.uint64, count=len(vocab))
        cols = np.fromiter(vocab.values(), dtype=np.int64, count=len(vocab))
        order = np.argsort(codes)
        self.codes, self.cols = codes[order], cols[order]
        if len(np.unique(self.codes)) != len(self.codes):
            raise ValueError("two grams of the vocabulary share a hash")
        self.width = len(vocab)
        self.idf = np.asarray(vectorizer.idf_, dtype=np.float64)

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        n = len(texts)
        padded = []
        for t in texts:
            if self.lowercase:
                t = t.lower()
            words = t.split()
            padded.append(" " + " ".join(words) + " " if words else "  ")
        lens = np.fromiter((len(p) for p in padded), dtype=np.int64, count=n)
        arr = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        doc = np.repeat(np.arange(n, dtype=np.int64), lens)
        space = arr == 32
        rows_parts, cols_parts = [], []
        total = len(arr)
        for size in range(self.lo, self.hi + 1):
            m = total - size + 1
            if m <= 0:
                continue
            ok = np.ones(m, dtype=bool)
            for k in range(1, size - 1):
                ok &= ~space[k : k + m]
            h = np.zeros(m, dtype=np.uint64)
            for k in range(size):
                h = h * _M + arr[k : k + m]
            h = h * _M + np.uint64(size)
            h, start_doc = h[ok], doc[:m][ok]
            idx = np.searchsorted(self.codes, h)
            idx[idx >= len(self.codes)] = 0
            hit = self.codes[idx] == h
            rows_parts.append(start_doc[hit])
            cols_parts.append(self.cols[idx[hit]])
        rows = np.concatenate(rows_parts) if rows_parts else np.zeros(0, dtype=np.int64)
        cols = np.concatenate(cols_parts) if cols_parts else np.zeros(0, dtype=np.int64)
        return _finish(rows, cols, n, self.width, self.idf, self.sublinear)


class FastWords:
    """``transform`` of a fitted word ``TfidfVectorizer`` (token pattern, n-grams a–b)."""

    def __init__(self, vectorizer: Any) -> None:
        if vectorizer.analyzer != "word" or vectorizer.norm != "l2":
            raise ValueError("FastWords reads word vectorisers with l2 norm only")
        if vectorizer.stop_words is not None or vectorizer.tokenizer is not None:
            raise ValueError("FastWords reads vectorisers without stop words or tokenizer")
        self.lo, self.hi = vectorizer.ngram_range
        self.lowercase = bool(vectorizer.lowercase)
        self.sublinear = bool(vectorizer.sublinear_tf)
        self.pattern = re.compile(vectorizer.token_pattern)
        self.vocab: dict[str, int] = vectorizer.vocabulary_
        self.width = len(self.vocab)
        self.idf = np.asarray(vectorizer.idf_, dtype=np.float64)

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        rows: list[int] = []
        cols: list[int] = []
        get = self.vocab.get
        lo, hi = self.lo, self.hi
        for i, t in enumerate(texts):
            toks = self.pattern.findall(t.lower() if self.lowercase else t)
            found: list[int] = []
            if lo == 1:
                found.extend(c for c in map(get, toks) if c is not None)
            for size in range(max(lo, 2), hi + 1):
                # each window of ``size`` tokens, in order (zip stops at the shortest shift)
                grams = map(" ".join, zip(*(toks[k:] for k in range(size)), strict=False))
                found.extend(c for c in map(get, grams) if c is not None)
            rows.extend([i] * len(found))
            cols.extend(found)
        return _finish(
            np.asarray(rows, dtype=np.int64),
            np.asarray(cols, dtype=np.int64),
            len(texts),
            self.width,
            self.idf,
            self.sublinear,
        )
