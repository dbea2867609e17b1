"""Every user error is one `error:` line on stderr, whatever the terminal width; LEX_DPR_DEBUG=1 shows the traceback."""

from __future__ import annotations

import os
import subprocess
import sys

LONG = "/nonexistent/" + "/".join(["a-rather-long-folder-name"] * 6)


def _cli(*args: str, debug: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "40"}
    env.pop("LEX_DPR_DEBUG", None)
    if debug:
        env["LEX_DPR_DEBUG"] = "1"
    return subprocess.run([sys.executable, "-m", "lex_dpr.cli.main", *args], capture_output=True, text=True, env=env)


def test_long_error_is_one_line_in_a_narrow_terminal():
    done = _cli("validate", "--pairs", f"{LONG}/pairs.jsonl", "--passages", f"{LONG}/passages.jsonl")
    lines = done.stderr.splitlines()
    assert done.returncode == 1 and done.stdout == ""
    assert len(lines) == 1 and lines[0].startswith("error: ") and len(lines[0]) > 2 * 40, done.stderr
    assert f"{LONG}/" in lines[0] and "Traceback" not in done.stderr


def test_markup_in_a_message_is_printed_as_is():
    done = _cli("inspect", f"{LONG}/[bold]x[/bold]:smile:.safetensors")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"error: {LONG}/[bold]x[/bold]:smile:.safetensors: no such file or folder"]


def test_usage_errors_are_one_line_too():
    unknown = _cli("validate", "--no-such-flag-with-a-long-name")
    assert unknown.returncode == 2 and unknown.stderr.splitlines() == [
        "error: No such option: --no-such-flag-with-a-long-name (see `lex-dpr validate --help`)"]
    missing = _cli("validate", "--pairs", "p.jsonl")
    assert missing.returncode == 2 and len(missing.stderr.splitlines()) == 1
    assert missing.stderr.startswith("error: Missing option '--passages'")


def test_debug_shows_the_traceback():
    done = _cli("validate", "--pairs", f"{LONG}/pairs.jsonl", "--passages", f"{LONG}/passages.jsonl", debug=True)
    assert done.returncode != 0 and "Traceback (most recent call last)" in done.stderr
    assert "InputError" in done.stderr


def test_help_and_no_arguments_still_work():
    assert _cli("--help").returncode == 0
    assert _cli("runs", "list", "--help").returncode == 0
    bare = _cli()
    assert bare.returncode == 2 and "Usage" in bare.stdout and bare.stderr == ""
