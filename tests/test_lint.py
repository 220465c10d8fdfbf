"""The code's own checks, so the README's test command runs them too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

BIN = Path(sys.executable).parent

CHECKS = {
    "ruff check": [str(BIN / "ruff"), "check", "--no-cache", "."],
    "ruff format": [str(BIN / "ruff"), "format", "--no-cache", "--check", "."],
    "mypy": [str(BIN / "mypy"), "--cache-dir", "/dev/null", "downloads_portal"],
    # Prints every function of grade C or worse: none may be.
    "radon": [str(BIN / "radon"), "cc", "-n", "C", "downloads_portal"],
}


@pytest.mark.parametrize("check", CHECKS)
def test_code_passes(check: str) -> None:
    result = subprocess.run(
        CHECKS[check], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    if check == "radon":
        assert result.stdout.strip() == "", result.stdout


#: The most lines a module may have: past that, it holds more than one thing.
MAX_MODULE_LINES = 300


def test_modules_are_small() -> None:
    package = ROOT / "downloads_portal"
    modules = sorted(package.rglob("*.py"))
    assert len(modules) > 20
    long = {
        str(path.relative_to(ROOT)): lines
        for path in modules
        if (lines := len(path.read_text(encoding="utf-8").splitlines()))
        > MAX_MODULE_LINES
    }
    assert long == {}


def test_the_readme_names_every_module() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = readme.split("## The layout of the repository", 1)[1].split("\n## ", 1)[0]
    words = set(layout.replace(",", " ").replace("(", " ").replace(")", " ").split())
    package = ROOT / "downloads_portal"

    def named(path: Path) -> bool:
        folder = path.parent.relative_to(package)
        return path.name in words and (folder == Path() or f"{folder}/" in words)

    missing = [
        str(path.relative_to(package))
        for path in sorted(package.rglob("*.py"))
        if not named(path)
    ]
    assert missing == []
