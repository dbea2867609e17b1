"""Every writing command fails on an unwritable output at once: one line, exit 1, no traceback, no work done.

Root ignores permission bits, so the portable case is an output under a regular file (``file/out.jsonl``), which
fails for everyone; a chmod 0o555 folder is tested too where it has an effect (non-root).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from _cli import lex_dpr


def _work_started(*args, **kwargs):
    raise AssertionError("the command started its work before checking that it can write its output")


@pytest.fixture(params=["under-a-file", "read-only-folder"])
def blocked(request, tmp_path):
    """A folder nothing can be written into, and the flag-free part of the message naming it."""
    if request.param == "under-a-file":
        (tmp_path / "file").write_text("x")
        yield tmp_path / "file", "a part of the path is a file, not a folder"
        return
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as root: chmod does not stop writes (under-a-file covers it)")
        yield ro, "no permission"
    finally:
        ro.chmod(0o755)


def _commands(sample_training_data, sample_dir, blocked_dir):
    d = sample_training_data
    return {
        "preprocess": (["preprocess", "--src-dir", str(sample_dir), "--out-law", str(blocked_dir / "law.jsonl")],
                       "lex_dpr.data.preprocess.find_files", "--out-law"),
        "make-pairs": (["make-pairs", "--law", str(d["passages"]), "--prec-json-dir", str(sample_dir / "precedents"),
                        "--out", str(blocked_dir / "pairs.jsonl")], "lex_dpr.mining.make_pairs.load_passages", "--out"),
        "merge-corpus": (["merge-corpus", "--law", str(d["passages"]), "--out", str(blocked_dir / "merged.jsonl")],
                         "lex_dpr.data.merge.iter_numbered_jsonl", "--out"),
        "stats": (["stats", "--passages", str(d["passages"]), "--out-dir", str(blocked_dir / "stats")],
                  "lex_dpr.data.stats.iter_jsonl", "--out-dir"),
        "eval": (["eval", "--passages", str(d["passages"]), "--pairs", str(d["valid_pairs"]), "--baseline", "bm25",
                  "--output", str(blocked_dir / "report.json")], "lex_dpr.evaluation.run.run_eval", "--output"),
        "eval --markdown": (["eval", "--passages", str(d["passages"]), "--pairs", str(d["valid_pairs"]),
                             "--baseline", "bm25", "--markdown", str(blocked_dir / "report.md")],
                            "lex_dpr.evaluation.run.read_corpus", "--markdown"),
        "runs plot": (["runs", "plot", "some-run", "--out", str(blocked_dir / "plot.png")],
                      "lex_dpr.runs.report.resolve_run", "--out"),
        "validate --json": (["validate", "--pairs", str(d["pairs"]), "--passages", str(d["passages"]), "--json",
                             str(blocked_dir / "v.json")], "lex_dpr.data.validate.validate", "--json"),
    }


COMMANDS = ["preprocess", "make-pairs", "merge-corpus", "stats", "eval", "eval --markdown", "runs plot",
            "validate --json"]


@pytest.mark.parametrize("name", COMMANDS)
def test_an_unwritable_output_fails_first_in_one_line(name, blocked, sample_training_data, sample_dir, monkeypatch):
    folder, reason = blocked
    args, work, flag = _commands(sample_training_data, sample_dir, folder)[name]
    monkeypatch.setattr(work, _work_started)
    result = lex_dpr(args)
    assert result.exit_code == 1, (result.output, result.exception)
    assert type(result.exception) is SystemExit and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot write {folder}") and reason in lines[0], lines
    assert f"choose another {flag}" in lines[0]


def test_eval_refuses_before_encoding_as_a_real_process(sample_training_data, tmp_path):
    """No monkeypatching: the one line comes from the real program, and no report or temp file is left."""
    d = sample_training_data
    (tmp_path / "file").write_text("x")
    done = subprocess.run([sys.executable, "-m", "lex_dpr.cli.main", "eval", "--passages", str(d["passages"]),
                           "--pairs", str(d["valid_pairs"]), "--model", "no-such-model-is-loaded", "--output",
                           str(tmp_path / "file" / "r.json"), "-q"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [f"error: cannot write {tmp_path / 'file'} (a part of the path is a file, not "
                                        "a folder); choose another --output"]


def test_eval_will_not_write_its_report_over_an_input(sample_training_data, tmp_path, monkeypatch):
    d = sample_training_data
    monkeypatch.setattr("lex_dpr.evaluation.run.read_corpus", _work_started)
    result = lex_dpr(["eval", "--passages", str(d["passages"]), "--pairs", str(d["valid_pairs"]), "--baseline",
                      "bm25", "--output", str(d["valid_pairs"])])
    assert result.exit_code == 2 and result.stderr.startswith(f"error: --output {d['valid_pairs']} is an input")
    result = lex_dpr(["eval", "--passages", str(d["passages"]), "--pairs", str(d["valid_pairs"]), "--baseline",
                      "bm25", "--output", str(d["pairs"])])  # the train split of the same make-pairs set
    assert result.exit_code == 2 and "is a make-pairs output (listed in pairs_train.manifest.json)" in result.stderr


def test_preprocess_outputs_must_differ(sample_dir, tmp_path):
    result = lex_dpr(["preprocess", "--src-dir", str(sample_dir), "--out-law", str(tmp_path / "p.jsonl"),
                      "--out-admin", str(tmp_path / "p.jsonl"), "--out-prec", str(tmp_path / "prec.jsonl")])
    assert result.exit_code == 2 and result.stderr == (
        "error: --out-law and --out-admin name the same file; give each kind its own output\n")
    assert not list(tmp_path.iterdir())
