"""``satukanal sandbox``: the built-in LAPOR! sandbox (see aggregator.lapor.sandbox)."""

from __future__ import annotations

from aggregator.lapor.sandbox.cli import add_arguments, main, register, run

__all__ = ["add_arguments", "main", "register", "run"]
