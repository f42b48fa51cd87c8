"""Values PostgreSQL refuses, made storable.

``text`` and ``jsonb`` cannot hold NUL (U+0000) and no PostgreSQL string can hold a lone
surrogate (what ``surrogateescape`` decoding leaves behind): either one in a Message-ID, a
header or a form field made the whole batch fail. They are replaced by U+FFFD, so the item is
stored (or quarantined) under a reference an operator can read and type.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_REFUSED = re.compile(r"[\x00\ud800-\udfff]")


def safe_text(value: str) -> str:
    if not isinstance(value, str):
        return value
    return _REFUSED.sub("\ufffd", value)


def json_safe(value: Any) -> Any:
    """A JSON-able value with every string (keys too) made storable."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return {safe_text(str(k)): json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    if isinstance(value, tuple):
        return tuple(json_safe(v) for v in value)
    return value


def storable_model(model: M) -> M:
    """A parsed draft with the text PostgreSQL refuses replaced in every string field
    (thread keys, origin, names): the item is then stored instead of quarantined."""
    data = model.model_dump()
    clean = json_safe(data)
    if clean == data:
        return model
    try:
        return type(model).model_validate(clean)
    except ValueError:
        return model  # left as it is: storing it fails and quarantines it, with its reason
