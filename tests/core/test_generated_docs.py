"""The reference pages generated from the models match the models: a settings or option
change that forgets to regenerate its page fails here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("script", "page"),
    [("gen_config_docs.py", "configuration.md"), ("gen_connector_docs.py", "connectors.md")],
)
def test_generated_page_is_fresh(script: str, page: str) -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr


def test_configuration_page_names_every_key() -> None:
    from schemas.config import Settings

    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for name, f in Settings.model_fields.items():
        assert f"`{name}`" in text or f"`[{name}]`" in text or f"`[[{name}]]`" in text
        sub = f.annotation
        fields = getattr(sub, "model_fields", {})
        for key in fields:
            assert (
                f"`SATUKANAL_{name.upper()}__{key.upper()}`" in text
                or f"`[{name}.{key}]`" in text
                or f"`[[{name}.{key}]]`" in text
            ), f"{name}.{key}"


def test_check_fails_on_a_stale_page(tmp_path: Path) -> None:
    """--check really compares: a copy of the script next to an edited page reports it."""
    (tmp_path / "scripts").mkdir()
    (tmp_path / "docs").mkdir()
    (tmp_path / "scripts" / "gen_config_docs.py").write_text(
        (ROOT / "scripts" / "gen_config_docs.py").read_text(encoding="utf-8")
    )
    (tmp_path / "schemas").symlink_to(ROOT / "schemas")
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    (tmp_path / "docs" / "configuration.md").write_text(page.replace("`pool_max`", "`pool_mx`"))
    out = subprocess.run(
        [sys.executable, str(tmp_path / "scripts" / "gen_config_docs.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert out.returncode == 1 and "stale" in out.stderr


def test_every_setting_says_what_it_is_for() -> None:
    """A new setting without a description would reach the reference as an empty cell."""
    import typing

    from pydantic import BaseModel

    from schemas.config import Settings

    def undocumented(model: type[BaseModel], prefix: str) -> list[str]:
        out = []
        for name, f in model.model_fields.items():
            if not (f.description or "").strip():
                out.append(prefix + name)
            for sub in typing.get_args(f.annotation) or (f.annotation,):
                if isinstance(sub, type) and issubclass(sub, BaseModel):
                    out += undocumented(sub, f"{prefix}{name}.")
        return out

    assert undocumented(Settings, "") == []
