"""The repository stands on its own: no file points outside it, and every relative link in
its Markdown pages leads to a file that exists."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Built from pieces so that this file does not match itself.
OUTSIDE = (
    "../" + "shared",
    "/work" + "/shared",
    "/work" + "/main",
    "DESIGN" + ".md",
    "STYLE" + ".md",
)
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


SKIP_DIRS = {".git", ".venv", "var", "__pycache__", ".mypy_cache", ".ruff_cache", "build"}


def _tracked() -> list[Path]:
    """The repository's files: git's view when this is a checkout, else a walk of the tree."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return [
            p
            for p in ROOT.rglob("*")
            if p.is_file()
            and not SKIP_DIRS & set(p.relative_to(ROOT).parts)
            and not p.name.endswith(".egg-info")
        ]
    return [ROOT / line for line in out.splitlines() if line and (ROOT / line).is_file()]


def test_no_file_refers_outside_the_repository() -> None:
    offenders = []
    for path in _tracked():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        offenders += [f"{path.relative_to(ROOT)}: {needle}" for needle in OUTSIDE if needle in text]
    assert offenders == []


def test_relative_markdown_links_resolve() -> None:
    broken = []
    for page in (p for p in _tracked() if p.suffix == ".md"):
        for target in _LINK.findall(page.read_text(encoding="utf-8")):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue
            if not (page.parent / target.split("#")[0]).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert broken == []


def test_the_readme_points_to_every_page_in_docs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [
        p.name for p in sorted((ROOT / "docs").glob("*.md")) if f"docs/{p.name}" not in readme
    ]
    assert missing == []
