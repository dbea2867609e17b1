"""Sweep files that try to take the tool down: each is one line, a meaningful exit code, and nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

VALID = """\
method: random
metric: {name: eval/ndcg_at_10, goal: maximize}
run_cap: 2
parameters:
  trainer.lr: {values: [0.05, 0.1]}
  trainer.batch_size: {values: [16, 32]}
fixed:
  data.pairs: pairs.jsonl
  data.passages: passages.jsonl
"""


def _cli(cwd: Path, *args: str, timeout: float = 120) -> tuple[subprocess.CompletedProcess, float]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", COLUMNS="200")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "lex_dpr.cli.main", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    return done, time.perf_counter() - start


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "pairs.jsonl").write_text("", encoding="utf-8")
    (tmp_path / "passages.jsonl").write_text("", encoding="utf-8")
    return tmp_path


def _create(folder: Path, text: str) -> subprocess.CompletedProcess:
    (folder / "sweep.yaml").write_text(text, encoding="utf-8")
    done, _ = _cli(folder, "sweep", "create", "--config", "sweep.yaml", "--no-run-agent")
    return done


def _one_error_line(done: subprocess.CompletedProcess) -> str:
    lines = [x for x in done.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    return lines[0]


def _ladder(levels: int) -> str:
    """``description:`` holding ``levels`` anchors, each a list of nine aliases of the one before: 9^levels values."""
    lines = ["description:", "  a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("text", [
    _ladder(9) + VALID,  # under an accepted key
    _ladder(6).replace("description:", "name: lr\ndescription:")
    + VALID.replace("{values: [0.05, 0.1]}", "{values: *a5}"),  # values that expand to 9^6 entries
])
def test_an_alias_bomb_is_refused_before_it_is_built(folder, text):
    (folder / "sweep.yaml").write_text(text, encoding="utf-8")
    assert (folder / "sweep.yaml").stat().st_size < 2_000
    done, seconds = _cli(folder, "sweep", "create", "--config", "sweep.yaml", "--no-run-agent")
    line = _one_error_line(done)
    assert done.returncode == 2 and seconds < 30
    assert "expands to more than 100,000 values through aliases" in line and "sweep.yaml: line" in line
    assert not (folder / "sweeps").exists()


def test_a_large_file_is_read_quickly_and_a_huge_one_refused(folder):
    comments = ("# " + "주석 " * 30 + "\n") * 9_000  # ~1.9 MB of comments
    (folder / "sweep.yaml").write_text(comments + VALID, encoding="utf-8")
    done, _ = _cli(folder, "sweep", "create", "--config", "sweep.yaml", "--no-run-agent")
    assert done.returncode == 0, done.stderr
    (folder / "big.yaml").write_text(comments * 3 + VALID, encoding="utf-8")
    done, _ = _cli(folder, "sweep", "create", "--config", "big.yaml", "--no-run-agent")
    assert done.returncode == 2 and "is more than a config file holds (at most 4,194,304)" in _one_error_line(done)


@pytest.mark.parametrize(("text", "message"), [
    (VALID + "run_cap: 5\n", "sweep.yaml: line 10: 'run_cap' is written twice (first on line 3): keep one"),
    (VALID.replace("  trainer.batch_size:", "  trainer.lr: {values: [0.2]}\n  trainer.batch_size:"),
     "sweep.yaml: line 6: 'trainer.lr' is written twice (first on line 5): keep one"),
    ("name: 123\n" + VALID, "'name': 123 must be text (quote it: name: \"123\")"),
    ("description: [a, b]\n" + VALID, "'description': ['a', 'b'] must be text"),
    ("a: " + "[" * 500 + "]" * 500 + "\n" + VALID, "nested more than 100 levels deep"),
    ("x: &r [*r]\n" + VALID, "an alias refers to the value that contains it"),
    (VALID.replace("[16, 32]", str(list(range(1, 1202)))), "1,201 values (at most 1,000)"),
])
def test_malformed_files_are_one_line(folder, text, message):
    done = _create(folder, text)
    assert done.returncode == 2 and message in _one_error_line(done)
    assert not (folder / "sweeps").exists()


def test_a_changed_search_is_refused_under_the_same_id(folder):
    assert _create(folder, VALID).returncode == 0
    created = (folder / "sweep.yaml").read_text(encoding="utf-8")
    assert "sweep_id: sweep-" in created
    for old, new, change in [
        ("goal: maximize", "goal: minimize", "metric.goal: maximize → minimize"),
        ("[16, 32]", "[64, 128]", "parameters.trainer.batch_size.values: [16, 32] → [64, 128]"),
        ("method: random", "method: grid", "method: random → grid"),
        ("  data.passages: passages.jsonl\n", "  data.passages: passages.jsonl\n  trainer.epochs: 1\n",
         "fixed.trainer.epochs: (none) → 1"),
    ]:
        (folder / "sweep.yaml").write_text(created.replace(old, new), encoding="utf-8")
        done, _ = _cli(folder, "sweep", "create", "--config", "sweep.yaml", "--no-run-agent")
        line = _one_error_line(done)
        assert done.returncode == 2 and change in line and "delete the sweep_id line" in line
    # what only schedules the search may change: run_cap is stored for the agents
    (folder / "sweep.yaml").write_text(created.replace("run_cap: 2", "run_cap: 4"), encoding="utf-8")
    done, _ = _cli(folder, "sweep", "create", "--config", "sweep.yaml", "--no-run-agent")
    assert done.returncode == 0, done.stderr
    stored = next((folder / "sweeps").glob("*/sweep.yaml")).read_text(encoding="utf-8")
    assert "run_cap: 4" in stored
