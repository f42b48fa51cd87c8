"""Every incident kind satukanal can open has a Prometheus alert rule, and promtool agrees."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from aggregator.health.alerts import KIND_LABELS

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "satukanal-alerts.yml"


def test_every_incident_kind_has_an_alert_rule():
    text = RULES.read_text()
    missing = [k for k in KIND_LABELS if f'kind="{k}"' not in text]
    assert missing == []


def test_promtool_accepts_the_rules():
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail(
            "promtool missing: install the Debian package 'prometheus' "
            "(scripts/debian-packages.txt)"
        )
    out = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr
