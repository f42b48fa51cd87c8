"""The lower bounds in pyproject.toml stay past the security advisories the README lists
(issue 13): a bound lowered by mistake, or an advisory added to the README without raising
the bound, fails here."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# package → the first version past every advisory known for it (README, "Dependencies").
PAST_ADVISORIES = {
    "aiohttp": (3, 14, 5),
    "pillow": (12, 3, 0),
    "cryptography": (50, 0, 0),
    "jinja2": (3, 1, 6),
    "aiosmtplib": (5, 1, 3),
    "setuptools": (83, 0, 0),
}


def _bounds() -> dict[str, tuple[int, ...]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    specs = [*project["project"]["dependencies"], *project["build-system"]["requires"]]
    out = {}
    for spec in specs:
        m = re.match(r"^([A-Za-z0-9_.-]+)\s*>=\s*([0-9.]+)", spec)
        if m:
            out[m.group(1).lower()] = tuple(int(p) for p in m.group(2).split("."))
    return out


def test_every_bound_is_past_the_known_advisories() -> None:
    bounds = _bounds()
    for package, fixed in PAST_ADVISORIES.items():
        assert package in bounds, f"{package} has no lower bound in pyproject.toml"
        assert bounds[package] >= fixed, (package, bounds[package], fixed)


def test_the_readme_names_each_bound_and_how_to_look_for_new_advisories() -> None:
    readme = (ROOT / "README.md").read_text()
    for package, fixed in PAST_ADVISORIES.items():
        version = ".".join(map(str, fixed))
        assert re.search(rf"\| {package}[^|]*\| {re.escape(version)} \|", readme), package
    assert "pip-audit" in readme and "osv.dev" in readme
