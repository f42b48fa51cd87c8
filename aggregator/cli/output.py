"""How commands print: JSON for scripts, rich tables for people, never cut when piped."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from rich.console import Console

PIPED_WIDTH = 1000  # wide enough that no column is cut or wrapped when piped


def console(*, stderr: bool = False) -> Console:
    """A terminal gets its own width; a pipe or file gets whole lines (``$COLUMNS`` wins)."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty() or os.environ.get("COLUMNS"):
        return Console(stderr=stderr)
    return Console(stderr=stderr, width=PIPED_WIDTH, soft_wrap=True)


def json_out(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    print()
