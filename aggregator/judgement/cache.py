"""Fitted models, kept once per process and on disk, keyed by what they were fitted from.

A model is a pure function of its training data, the policy, the code that turns text into
features and the library versions (the fit uses a fixed seed). :func:`fitted` hashes all of
that into a key; a model of that key is taken from memory, else from
``<data dir>/models/<kind>-<key>.pickle``, else fitted and written there (atomically), so
a restart loads in milliseconds what the first start fitted in a second or two, and any
change of corpus, corrections, policy, code or library fits anew. Only the daemon writes
its data directory; a file that does not load is fitted over.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
import threading
from collections.abc import Callable, Iterable
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import structlog

log = structlog.get_logger(__name__)

T = TypeVar("T")

# The sources whose change changes what a fitted model computes.
_CODE = (
    "model.py",
    "normalize.py",
    "slang.py",
    "features.py",
    "rules.py",
    "router.py",
    "labeller.py",
)

_MEMORY: dict[str, Any] = {}
_LOCKS: dict[str, threading.Lock] = {}
_GUARD = threading.Lock()
_directory: Path | None = None


def set_directory(path: Path | None) -> None:
    """Where fitted models are kept across restarts (the daemon's data directory)."""
    global _directory
    _directory = None if path is None else Path(path) / "models"


def _code_digest() -> bytes:
    h = hashlib.sha256()
    pkg = resources.files("aggregator.judgement")
    for name in _CODE:
        h.update(name.encode())
        h.update(pkg.joinpath(name).read_bytes())
    import numpy
    import scipy
    import sklearn

    h.update(f"{numpy.__version__}/{scipy.__version__}/{sklearn.__version__}".encode())
    return h.digest()


_CODE_DIGEST: bytes | None = None


def key(kind: str, parts: Iterable[str]) -> str:
    """The key of a model of ``kind`` fitted from ``parts`` (examples, policy) by this code."""
    global _CODE_DIGEST
    if _CODE_DIGEST is None:
        _CODE_DIGEST = _code_digest()
    h = hashlib.sha256(_CODE_DIGEST)
    h.update(kind.encode())
    for p in parts:
        h.update(b"\x00")
        h.update(p.encode())
    return h.hexdigest()[:32]


def fitted(kind: str, model_key: str, fit: Callable[[], T], directory: Path | None = None) -> T:
    """The model of ``model_key``: from memory, from disk, or ``fit()`` (then stored)."""
    name = f"{kind}-{model_key}"
    with _GUARD:
        if name in _MEMORY:
            return _MEMORY[name]  # type: ignore[no-any-return]
        lock = _LOCKS.setdefault(name, threading.Lock())
    with lock:  # two callers of one key fit it once
        if name in _MEMORY:
            return _MEMORY[name]  # type: ignore[no-any-return]
        where = directory / "models" if directory is not None else _directory
        model = _load(where / f"{name}.pickle") if where is not None else None
        if model is None:
            model = fit()
            if where is not None:
                _store(where / f"{name}.pickle", model)
        with _GUARD:
            _MEMORY[name] = model
        return model  # type: ignore[no-any-return]


def is_ready(kind: str, model_key: str) -> bool:
    return f"{kind}-{model_key}" in _MEMORY


def _load(path: Path) -> Any:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("model_cache_unreadable", path=str(path), error=str(exc))
        return None
    try:
        return pickle.loads(data)  # noqa: S301 - our own data directory, written by us
    except Exception as exc:  # a truncated or foreign file: fit again
        log.warning("model_cache_invalid", path=str(path), error=f"{type(exc).__name__}: {exc}")
        return None


def _store(path: Path, model: Any) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pickle")
        with os.fdopen(fd, "wb") as f:
            pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError as exc:  # a read-only data dir costs a fit at each start, nothing else
        log.warning("model_cache_not_written", path=str(path), error=str(exc))


def clear_memory() -> None:
    """Forget the models held in memory (tests of the disk cache)."""
    with _GUARD:
        _MEMORY.clear()
