"""What the repository itself ships: no file outside the tests names this machine's folders (its
checkout's parent, a temporary folder), and the README stays a front door."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def tracked_files() -> list[Path]:
    try:
        listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the tracked files cannot be listed")
    return [ROOT / name for name in listed.splitlines() if not name.startswith("tests/")]


def test_no_tracked_file_holds_a_path_of_this_machine():
    machine = [str(ROOT.parent) + "/", str(Path(tempfile.gettempdir()) / "tmp"), "/tmp/pytest-of-"]
    found = []
    for path in tracked_files():
        if path.is_file():
            text = path.read_bytes().decode("utf-8", "ignore")
            found += [f"{path.relative_to(ROOT)}: {marker}" for marker in machine if marker in text]
    assert found == []


def test_the_readme_is_a_front_door():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.encode()) <= 20_000
    for page in ("usage", "models", "results", "safety", "architecture"):
        assert f"docs/{page}.md" in readme and (ROOT / "docs" / f"{page}.md").is_file()
