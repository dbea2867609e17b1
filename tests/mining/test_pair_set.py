"""make-pairs' outputs are one set: a kill at any point leaves the old set or the new one, never a mix.

The kills are real (SIGKILL of a subprocess at a point the test chooses, by wrapping ``os.replace``);
the manifest check is what validate, eval (and train) run before reading.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import orjson
import pytest

from lex_dpr.errors import InputError
from lex_dpr.mining.make_pairs import MakePairsConfig, make_pairs, split_paths
from lex_dpr.mining.pairset import LOCK_NAME, PairSetWriter, check_pair_set, manifest_path
from _cli import lex_dpr

KILL_AFTER_FIRST_RENAME = """
    # SIGKILL this process right after the first output is renamed from the set folder into place
    def hooked(src, dst, _real=os.replace):
        _real(src, dst)
        if Path(src).parent.name.endswith(".set.tmp") and Path(dst).parent == OUT.parent:
            os.kill(os.getpid(), signal.SIGKILL)
"""
KILL_AT_COMMIT_POINT = """
    # SIGKILL this process when the manifest is about to land in the set folder: all files written, none committed
    def hooked(src, dst, _real=os.replace):
        if Path(dst).parent.name.endswith(".set.tmp") and Path(dst).name.endswith(".manifest.json"):
            os.kill(os.getpid(), signal.SIGKILL)
        _real(src, dst)
"""


def _config(sample_passages, sample_dir, out: Path, seed: int, **kw) -> MakePairsConfig:
    return MakePairsConfig(law=str(sample_passages["law"]), admin=str(sample_passages["admin"]),
                           use_admin_for_prec=True, prec_json_dir=str(sample_dir / "precedents"), out=str(out),
                           hn_per_q=3, valid_ratio=0.3, seed=seed, negatives="random", cache_dir="", **kw)


def _files(out: Path) -> dict[str, bytes]:
    """The pair set's data files (the summary and manifest name the --out path, so they differ by folder)."""
    paths = split_paths(out)
    return {k: paths[k].read_bytes() for k in ("train", "valid", "fallback") if paths[k].exists()}


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def _killed_run(cfg: MakePairsConfig, hook: str) -> subprocess.CompletedProcess:
    script = textwrap.dedent("""
        import os, signal, sys
        from pathlib import Path
        from lex_dpr.mining.make_pairs import MakePairsConfig, make_pairs
        cfg = MakePairsConfig(**{cfg!r})
        OUT = Path(cfg.out)
    """).format(cfg=cfg.__dict__) + textwrap.dedent(hook) + "os.replace = hooked\nmake_pairs(cfg)\n"
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def two_sets(sample_passages, sample_dir, tmp_path_factory):
    """The same inputs mined with two seeds: the old set and the new set of every test below."""
    base = tmp_path_factory.mktemp("sets")
    sets = {}
    for seed in (1, 2):
        out = base / f"seed{seed}" / "pairs_train.jsonl"
        make_pairs(_config(sample_passages, sample_dir, out, seed))
        sets[seed] = _files(out)
    assert sets[1]["valid"] != sets[2]["valid"] and sets[1]["train"] != sets[2]["train"]
    return base, sets


def _old_set(two_sets, tmp_path) -> Path:
    base, _ = two_sets
    shutil.copytree(base / "seed1", tmp_path / "out")
    return tmp_path / "out" / "pairs_train.jsonl"


def test_kill_between_renames_is_finished_by_the_next_reader(two_sets, sample_passages, sample_dir, tmp_path):
    _, sets = two_sets
    out = _old_set(two_sets, tmp_path)
    done = _killed_run(_config(sample_passages, sample_dir, out, seed=2), KILL_AFTER_FIRST_RENAME)
    assert done.returncode == -signal.SIGKILL, done.stderr
    # on disk: the first file renamed is the new one, the rest still old, and the committed set folder waits
    assert split_paths(out)["train"].read_bytes() == sets[2]["train"]
    assert split_paths(out)["valid"].read_bytes() == sets[1]["valid"]
    assert len([n for n in _leftovers(out.parent) if n.endswith(".set.tmp")]) == 1
    # a make-pairs run holding the folder: the reader refuses the half-replaced set instead of reading it
    holder = _hold_lock(out.parent)
    try:
        with pytest.raises(InputError, match="is replacing this set right now"):
            check_pair_set(split_paths(out)["valid"])
    finally:
        holder.kill()
        holder.wait()
    # the next reader (validate, eval, train) finishes the commit: the complete new set, consistent
    check_pair_set(split_paths(out)["valid"])
    assert _files(out) == sets[2]
    check_pair_set(out)
    assert _leftovers(out.parent) == []


def test_kill_before_the_commit_point_keeps_the_old_set_and_the_next_run_cleans(two_sets, sample_passages,
                                                                               sample_dir, tmp_path):
    _, sets = two_sets
    out = _old_set(two_sets, tmp_path)
    done = _killed_run(_config(sample_passages, sample_dir, out, seed=2), KILL_AT_COMMIT_POINT)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert _files(out) == sets[1]  # untouched, and it still checks
    check_pair_set(out)
    check_pair_set(split_paths(out)["valid"])
    (out.parent / ".pairs_train_valid.jsonl.k2j4h1.tmp").write_bytes(b'{"query_id": "half a')  # atomic_open's, SIGKILLed
    leftovers = _leftovers(out.parent)
    assert len(leftovers) == 2 and any(n.endswith(".set.tmp") for n in leftovers)
    make_pairs(_config(sample_passages, sample_dir, out, seed=2))
    assert _leftovers(out.parent) == [] and _files(out) == sets[2]
    check_pair_set(out)


def test_a_mix_made_by_hand_is_refused_by_validate_and_eval(two_sets, tmp_path):
    base, sets = two_sets
    out = _old_set(two_sets, tmp_path)
    valid = split_paths(out)["valid"]
    valid.write_bytes(sets[2]["valid"])  # the valid split of another run
    message = (f"{valid} does not match pairs_train.manifest.json (written by another make-pairs run, or a run "
               "that was killed); run make-pairs again")
    with pytest.raises(InputError) as caught:
        check_pair_set(out)  # the whole set is checked, whichever member is read
    assert str(caught.value) == message
    corpus = base / "seed1" / "prec_fallback_passages.jsonl"
    result = lex_dpr(["validate", "--pairs", str(out), "--pairs", str(valid), "--passages", str(corpus)])
    assert result.exit_code == 1 and result.stderr == f"error: {message}\n" and result.stdout == ""
    result = lex_dpr(["eval", "--passages", str(corpus), "--pairs", str(valid), "--train-pairs", str(out), "-q"])
    assert result.exit_code == 1 and result.stderr == f"error: {message}\n"


def test_the_set_holds_what_was_written_and_files_outside_it_are_not_checked(tmp_path):
    out = tmp_path / "pairs_train.jsonl"
    rows = [{"query_id": "q1", "query_text": "불법행위란 무엇인가요?", "positive_passages": ["LAW_001706_제750조"]}]
    with PairSetWriter(out, {"seed": 1}) as writer:
        assert writer.write_jsonl("pairs_train.jsonl", rows) == 1
    written = out.read_bytes()
    assert [orjson.loads(line) for line in written.splitlines()] == rows
    manifest = orjson.loads(manifest_path(out).read_bytes())
    assert manifest["files"] == {"pairs_train.jsonl": {"sha256": hashlib.sha256(written).hexdigest(),
                                                       "bytes": len(written)}}
    assert manifest["settings"] == {"seed": 1} and manifest["removed"] == []
    mine = tmp_path / "mine.jsonl"  # beside the set, listed by no manifest
    mine.write_bytes(b'{"query_id": "q"}\n')
    assert check_pair_set(mine) is None and check_pair_set(out) is None
    assert check_pair_set(tmp_path / "missing.jsonl") is None  # the reader reports a missing file itself
    assert mine.read_bytes() == b'{"query_id": "q"}\n' and out.read_bytes() == written  # read, never rewritten
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.jsonl", "pairs_train.jsonl",
                                                          "pairs_train.manifest.json"]
    out.write_bytes(b'{"query_id": "q"}\n')  # the same bytes in a listed file are checked, and refused
    with pytest.raises(InputError, match="pairs_train.jsonl does not match pairs_train.manifest.json"):
        check_pair_set(out)


def _hold_lock(folder: Path) -> subprocess.Popen:
    """Another process holding make-pairs' lock on ``folder`` until killed."""
    script = ("import sys, time\nfrom lex_dpr.mining.pairset import output_lock\n"
              f"with output_lock({str(folder)!r}):\n    print('locked', flush=True)\n    time.sleep(600)\n")
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def test_a_second_run_on_the_same_folder_refuses_naming_the_lock(sample_passages, sample_dir, tmp_path):
    out = tmp_path / "pairs_train.jsonl"
    holder = _hold_lock(tmp_path)
    args = ["make-pairs", "--law", str(sample_passages["law"]), "--prec-json-dir", str(sample_dir / "precedents"),
            "--out", str(out), "--hn-per-q", "2", "--negatives", "random", "--no-cache", "--quiet"]
    try:
        started = time.monotonic()
        result = lex_dpr(args)
        assert time.monotonic() - started < 10  # refused at once, not after mining
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == (f"error: {tmp_path / LOCK_NAME} is held by another make-pairs run writing to this "
                             f"folder (pid {holder.pid}); wait for it to finish or choose another output folder\n")
    assert not out.exists()
    assert lex_dpr(args).exit_code == 0 and out.exists()  # the lock dies with its holder


def test_disk_full_while_writing_the_set_leaves_the_old_set(two_sets, sample_passages, sample_dir, tmp_path,
                                                           monkeypatch):
    _, sets = two_sets
    out = _old_set(two_sets, tmp_path)
    real_fsync, calls = os.fsync, []

    def full(fd):  # the second output's data does not fit
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full)
    result = lex_dpr(["make-pairs", "--law", str(sample_passages["law"]), "--admin", str(sample_passages["admin"]),
                      "--use-admin-for-prec", "--prec-json-dir", str(sample_dir / "precedents"), "--out", str(out),
                      "--hn-per-q", "3", "--valid-ratio", "0.3", "--seed", "2", "--negatives", "random",
                      "--no-cache", "--quiet"])
    monkeypatch.undo()
    assert result.exit_code == 1 and result.stdout == "", result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot write ") and "no space left on device" in lines[0]
    assert _files(out) == sets[1] and _leftovers(out.parent) == []
    check_pair_set(out)


def test_a_split_no_longer_asked_for_leaves_with_the_set(sample_passages, sample_dir, tmp_path):
    out = tmp_path / "pairs_train.jsonl"
    make_pairs(_config(sample_passages, sample_dir, out, seed=1, test_ratio=0.2))
    assert split_paths(out)["test"].exists()
    make_pairs(_config(sample_passages, sample_dir, out, seed=1))
    assert not split_paths(out)["test"].exists()
    manifest = orjson.loads(split_paths(out)["manifest"].read_bytes())
    assert manifest["removed"] == ["pairs_train_test.jsonl"] and manifest["settings"]["seed"] == 1
    assert set(manifest["files"]) == {"pairs_train.jsonl", "pairs_train_valid.jsonl",
                                      "prec_fallback_passages.jsonl", "pairs_train_summary.json"}


def test_a_reader_that_cannot_finish_the_commit_says_so(two_sets, sample_passages, sample_dir, tmp_path,
                                                        monkeypatch):
    import lex_dpr.mining.pairset as pairset

    out = _old_set(two_sets, tmp_path)
    done = _killed_run(_config(sample_passages, sample_dir, out, seed=2), KILL_AFTER_FIRST_RENAME)
    assert done.returncode == -signal.SIGKILL

    def read_only(src, dst):
        raise OSError(errno.EROFS, "Read-only file system", str(src))

    monkeypatch.setattr(pairset.os, "replace", read_only)
    with pytest.raises(InputError) as caught:
        check_pair_set(out)
    assert str(caught.value) == (f"{out}: a make-pairs run was killed while replacing this set, and it cannot be "
                                 "finished here (Read-only file system); run make-pairs again")


def test_out_may_not_overwrite_an_input(sample_passages, sample_dir, tmp_path):
    law = tmp_path / "pairs_train.jsonl"
    law.write_bytes(sample_passages["law"].read_bytes())
    result = lex_dpr(["make-pairs", "--law", str(law), "--prec-json-dir", str(sample_dir / "precedents"),
                      "--out", str(law)])
    assert result.exit_code == 2 and result.stderr == (
        f"error: --out {law} would overwrite --law {law}; choose another --out\n")
    assert law.read_bytes() == sample_passages["law"].read_bytes()
