"""The seed guide as a user types it, in an empty folder: two preprocess calls into data/processed/,
make-pairs, merge-corpus, then `lex-dpr sweep preset` with no path flags."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import yaml

GUIDE_PREPROCESS = [
    ["preprocess", "--src-dir", "data/laws", "--out-law", "data/processed/law_passages.jsonl", "--glob", "**/*.json"],
    ["preprocess", "--src-dir", "data/admin_rules", "--out-admin", "data/processed/admin_passages.jsonl",
     "--glob", "**/*.json"],
]


def _lex_dpr(cwd, *args):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline"}
    done = subprocess.run([sys.executable, "-m", "lex_dpr.cli.main", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done


def test_the_seed_guide_runs_as_written(tmp_path, sample_dir):
    for kind in ("laws", "admin_rules", "precedents"):
        shutil.copytree(sample_dir / kind, tmp_path / "data" / kind)
    processed = tmp_path / "data" / "processed"
    law, admin = processed / "law_passages.jsonl", processed / "admin_passages.jsonl"

    _lex_dpr(tmp_path, *GUIDE_PREPROCESS[0])
    law_only = law.read_bytes()
    assert len(law_only.splitlines()) == 24
    _lex_dpr(tmp_path, *GUIDE_PREPROCESS[1])
    assert law.read_bytes() == law_only  # the second call left the first one's output alone
    assert len(admin.read_bytes().splitlines()) > 0
    assert sorted(p.name for p in processed.iterdir()) == [
        "admin_passages.jsonl", "admin_passages_report.json", "law_passages.jsonl", "law_passages_report.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]

    _lex_dpr(tmp_path, "make-pairs", "--law", "data/processed/law_passages.jsonl", "--admin",
             "data/processed/admin_passages.jsonl", "--use-admin-for-prec", "--prec-json-dir", "data/precedents", "-q")
    _lex_dpr(tmp_path, "merge-corpus", "--law", "data/processed/law_passages.jsonl", "--admin",
             "data/processed/admin_passages.jsonl", "--prec", "data/processed/prec_fallback_passages.jsonl")
    for name in ("pairs_train.jsonl", "pairs_train_valid.jsonl", "merged_corpus.jsonl"):
        assert (processed / name).stat().st_size > 0, name

    _lex_dpr(tmp_path, "sweep", "preset", "--family", "static", "--no-run-agent")  # the default data paths
    fixed = yaml.safe_load((tmp_path / "configs" / "sweep.yaml").read_text(encoding="utf-8"))["fixed"]
    assert fixed["data.pairs"] == "data/processed/pairs_train.jsonl"
    assert fixed["data.passages"] == "data/processed/merged_corpus.jsonl"
    assert [p.name.startswith("sweep-") for p in (tmp_path / "sweeps").iterdir()] == [True]
