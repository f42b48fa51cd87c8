"""The built-in LAPOR! sandbox: the whole contract, a life for every report, faults on demand.

``python -m aggregator.lapor.sandbox`` or ``satukanal sandbox`` runs it.
"""

from __future__ import annotations

from aggregator.lapor.sandbox.app import SANDBOX, create_app
from aggregator.lapor.sandbox.core import Sandbox, SandboxConfig
from aggregator.lapor.sandbox.faults import Faults, parse_faults

__all__ = ["SANDBOX", "Faults", "Sandbox", "SandboxConfig", "create_app", "parse_faults"]
