import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

from lex_dpr.data.corpus import read_corpus, read_pairs
from lex_dpr.errors import ConfigError, InputError
from lex_dpr.synth.run import SynthJob, journal_path, run_synth, summary_path

ROOT = Path(__file__).resolve().parents[2]


def _job(passages, out, **kw) -> SynthJob:
    return SynthJob(passages=str(passages), out=str(out), **{"n": 12, **kw})


def _lines(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_pairs_are_balanced_valid_training_pairs(statute_passages, tmp_path):
    r = run_synth(_job(statute_passages, tmp_path / "s.jsonl"), show_progress=False)
    pairs = _lines(tmp_path / "s.jsonl")
    assert r.written == len(pairs) == 12
    assert Counter(p["meta"]["qtype"] for p in pairs) == dict.fromkeys(["정의", "프로세스", "규정", "예시", "비교", "적용"], 2)
    assert len({p["query_id"] for p in pairs}) == 12 and all(p["query_id"].startswith("SYN_") for p in pairs)
    assert {p["meta"]["generator"] for p in pairs} == {"offline"} and all(p["hard_negatives"] == [] for p in pairs)
    assert len(read_pairs(tmp_path / "s.jsonl", read_corpus(statute_passages))) == 12  # what train reads
    summary = orjson.loads(summary_path(tmp_path / "s.jsonl").read_bytes())
    assert summary["written"] == 12 and summary["success_rate"] == round(12 / summary["attempted"], 4)
    assert summary["per_type"]["예시"]["skipped_passages"] > 0 and summary["short_types"] == []


def test_same_inputs_and_seed_give_the_same_bytes(statute_passages, tmp_path):
    for name, seed in (("a", 0), ("b", 0), ("c", 5)):
        run_synth(_job(statute_passages, tmp_path / f"{name}.jsonl", seed=seed, n=30), show_progress=False)
    a, b, c = ((tmp_path / f"{x}.jsonl").read_bytes() for x in "abc")
    assert a == b and a != c
    summaries = [summary_path(tmp_path / f"{x}.jsonl").read_bytes() for x in "ab"]
    assert summaries[0].replace(b"a.jsonl", b"b.jsonl") == summaries[1]


def test_types_with_too_few_passages_are_reported_short(statute_passages, tmp_path):
    r = run_synth(_job(statute_passages, tmp_path / "s.jsonl", n=60), show_progress=False)
    short = r.summary["short_types"]
    assert "예시" in short and "규정" not in short  # 2 list articles in the sample; 29 with specific headings
    assert r.per_type["예시"]["attempted"] == r.per_type["예시"]["slots"] == 2  # every slot tried, then it stops
    assert r.per_type["규정"]["written"] == 10


def test_a_restart_after_sigkill_gives_the_same_bytes_as_one_run(statute_passages, tmp_path):
    """A real SIGKILL mid-run (the generator slowed down so the kill lands inside), then the same command."""
    whole = tmp_path / "whole.jsonl"
    run_synth(_job(statute_passages, whole, n=40), show_progress=False)
    out = tmp_path / "killed.jsonl"
    script = f"""
import time
from lex_dpr.synth import offline
from lex_dpr.synth.run import SynthJob, run_synth
slow = offline.OfflineGenerator.question
def question(self, *a, **k):
    time.sleep(0.05)
    return slow(self, *a, **k)
offline.OfflineGenerator.question = question
run_synth(SynthJob(passages={str(statute_passages)!r}, out={str(out)!r}, n=40), show_progress=False)
"""
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    deadline = time.time() + 60
    while time.time() < deadline and (not out.exists() or len(out.read_bytes().splitlines()) < 8):
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(out.read_bytes().splitlines())
    assert 8 <= done < 40, "the kill must land mid-run"
    assert not summary_path(out).exists()
    with journal_path(out).open("ab") as fh:  # and a journal line cut in half by the kill
        fh.write(b'{"t": "\xec\xa0')
    r = run_synth(_job(statute_passages, out, n=40), show_progress=False)
    assert r.resumed >= done
    assert out.read_bytes() == whole.read_bytes()
    assert summary_path(out).read_bytes().replace(b"killed", b"whole") == summary_path(whole).read_bytes()


def test_a_pair_lost_between_journal_and_output_is_restored(statute_passages, tmp_path):
    out = tmp_path / "s.jsonl"
    run_synth(_job(statute_passages, out), show_progress=False)
    whole = out.read_bytes()
    out.write_bytes(b"\n".join(whole.splitlines()[:-1]) + b"\n")  # killed after the journal line, before the pair
    run_synth(_job(statute_passages, out), show_progress=False)
    assert out.read_bytes() == whole


def test_other_settings_on_a_journal_are_refused_unless_forced(statute_passages, tmp_path):
    out = tmp_path / "s.jsonl"
    run_synth(_job(statute_passages, out), show_progress=False)
    with pytest.raises(InputError, match=r"started with other settings \(n: 12 → 13; seed: 0 → 1\).*--force"):
        run_synth(_job(statute_passages, out, n=13, seed=1), show_progress=False)
    r = run_synth(_job(statute_passages, out, n=13, seed=1, force=True), show_progress=False)
    assert r.written == 13 and len(_lines(out)) == 13


def test_an_output_that_is_not_a_synth_run_is_not_overwritten(statute_passages, tmp_path):
    out = tmp_path / "pairs_train.jsonl"
    out.write_text('{"query_id": "mine"}\n')
    with pytest.raises(InputError, match="is not an unfinished synth run.*--force"):
        run_synth(_job(statute_passages, out), show_progress=False)
    assert out.read_text() == '{"query_id": "mine"}\n'


def test_bad_flags_are_one_config_error(statute_passages, tmp_path):
    with pytest.raises(ConfigError) as e:
        run_synth(_job(statute_passages, tmp_path / "s.jsonl", types=["정의", "definition"], temperatures=[3.0], n=0))
    assert "--types" in str(e.value) and "--temperatures" in str(e.value) and "--n 0" in str(e.value)
    assert not (tmp_path / "s.jsonl").exists()


def test_passage_types_filter_and_empty_selection(statute_passages, tmp_path):
    r = run_synth(_job(statute_passages, tmp_path / "s.jsonl", passage_types=["admin"], n=6), show_progress=False)
    assert all(p["positive_passages"][0].startswith("ADM_") for p in _lines(tmp_path / "s.jsonl"))
    assert r.written <= 6
    with pytest.raises(InputError, match="no passages of type prec"):
        run_synth(_job(statute_passages, tmp_path / "t.jsonl", passage_types=["prec"]), show_progress=False)


@pytest.mark.slow
@pytest.mark.shared_data
def test_shared_corpus_gives_3000_balanced_questions(shared_dir, tmp_path):
    from lex_dpr.data.preprocess import preprocess

    law, admin, corpus = tmp_path / "law.jsonl", tmp_path / "admin.jsonl", tmp_path / "statutes.jsonl"
    # the statutes only: precedents ask nothing here
    preprocess(shared_dir, out_law=law, pattern="laws/**/*.json")
    preprocess(shared_dir, out_admin=admin, pattern="admin_rules/**/*.json")
    corpus.write_bytes(law.read_bytes() + admin.read_bytes())
    r = run_synth(_job(corpus, tmp_path / "s.jsonl", n=3000, passage_types=["law", "admin"]), show_progress=False)
    assert r.written == 3000 and r.summary["short_types"] == []
    assert r.summary["success_rate"] > 0.95
    ids = set(read_corpus(corpus).ids)
    assert all(p in ids for pair in _lines(tmp_path / "s.jsonl") for p in pair["positive_passages"])


def test_a_damaged_journal_line_is_named_and_nothing_is_changed(statute_passages, tmp_path):
    out = tmp_path / "s.jsonl"
    run_synth(_job(statute_passages, out, n=6), show_progress=False)
    lines = journal_path(out).read_bytes().splitlines(keepends=True)
    damaged = b"".join([*lines[:2], b'{"t": \n', *lines[2:]])
    journal_path(out).write_bytes(damaged)
    with pytest.raises(InputError, match=rf"^{journal_path(out)}:3: invalid JSON \(.+\); not a synth journal line; "
                                         rf"delete {journal_path(out)} and {out} or pass --force to start over$"):
        run_synth(_job(statute_passages, out, n=6), show_progress=False)
    assert journal_path(out).read_bytes() == damaged
