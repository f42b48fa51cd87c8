"""Fetching the photo an old form row names: a file under the upload folder, or a URL.

Refuses anything that would leave the configured folder (``../``, absolute paths, symlinks
out of it); every outcome is a status recorded with the row, never an exception.
"""

from __future__ import annotations

import base64
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
import filetype

from connectors.forms.options import Photo
from connectors.forms.rows import photo_name

ALLOWED = {"image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf"}


def safe_path(base_dir: Path, name: str) -> Path | None:
    """The file under ``base_dir`` that ``name`` means, or None if it would escape it."""
    rel = PurePosixPath(name.replace("\\", "/"))
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        return None
    base = base_dir.resolve()
    target = (base / rel).resolve()
    return target if target.is_relative_to(base) else None


def _sniff(data: bytes, name: str, note: str | None = None) -> dict[str, Any]:
    kind = filetype.guess(data)
    if kind is None or kind.mime not in ALLOWED:
        return {"status": "unsupported_type", "name": name}
    return {
        "status": "ok",
        "name": name,
        "content_type": kind.mime,
        "b64": base64.b64encode(data).decode(),
        "note": note,
    }


async def fetch_photo(
    cfg: Photo,
    ref: str | None,
    http: aiohttp.ClientSession | None,
) -> dict[str, Any] | None:
    """``None`` when the row names no photo; else a dict with ``status`` and ``ref``."""
    if ref is None:
        return None
    name = photo_name(ref)
    if name is None:
        return None
    out = await _fetch(cfg, name, http)
    out["ref"] = ref
    return out


async def _fetch(cfg: Photo, name: str, http: aiohttp.ClientSession | None) -> dict[str, Any]:
    url = None
    if urlsplit(name).scheme in ("http", "https"):
        url = name
    elif cfg.url_base:
        if safe_path(Path("/x"), name) is None:
            return {"status": "refused", "name": name}
        url = urljoin(cfg.url_base.rstrip("/") + "/", name)
    if url is not None:
        return await _download(cfg, url, http)
    if cfg.base_dir is None:
        return {"status": "no_base_dir", "name": name}
    path = safe_path(cfg.base_dir, name)
    if path is None:
        return {"status": "refused", "name": name}
    try:
        size = path.stat().st_size
        if size > cfg.max_bytes:
            return {"status": "too_large", "name": path.name}
        data = path.read_bytes()
    except OSError:
        return {"status": "missing", "name": path.name}
    return _sniff(data, path.name)


async def _download(cfg: Photo, url: str, http: aiohttp.ClientSession | None) -> dict[str, Any]:
    name = PurePosixPath(urlsplit(url).path).name or "foto"
    if http is None:
        return {"status": "no_http", "name": name}
    try:
        async with http.get(url, timeout=aiohttp.ClientTimeout(total=30)) as resp:
            if resp.status != 200:
                return {"status": "missing", "name": name}
            data = await resp.content.read(cfg.max_bytes + 1)
    except (aiohttp.ClientError, TimeoutError):
        return {"status": "unreachable", "name": name}
    if len(data) > cfg.max_bytes:
        return {"status": "too_large", "name": name}
    return _sniff(data, name)
