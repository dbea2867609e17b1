"""The repository passes the project's ruff configuration (pyproject.toml [tool.ruff]), lazy-import ban included."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff is not installed")


def _ruff(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", *args],
                          cwd=ROOT, input=stdin, capture_output=True, text=True)


def test_ruff_check_passes():
    done = _ruff(".")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(("filename", "banned"), [("lex_dpr/cli/new_command.py", True), ("lex_dpr/__init__.py", True),
                                                  ("lex_dpr/models/__init__.py", True),
                                                  ("lex_dpr/data/sources/__init__.py", True),
                                                  ("lex_dpr/models/new_module.py", False), ("tests/test_x.py", False)])
def test_heavy_imports_are_banned_at_module_level_in_the_cli(filename, banned):
    source = "import torch\n\n\ndef f():\n    import peft\n\n    return torch, peft\n"
    done = _ruff("--stdin-filename", filename, "-", stdin=source)
    assert ("TID253" in done.stdout) is banned, done.stdout
    assert done.stdout.count("TID253") <= 1  # the import inside the function is allowed
