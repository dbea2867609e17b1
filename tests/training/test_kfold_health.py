from collections import Counter, defaultdict

import numpy as np
import orjson
import pytest
from typer.testing import CliRunner

from lex_dpr.cli.main import app

from lex_dpr.training.config import load_config
from lex_dpr.models.loading import load_encoder
from lex_dpr.data.corpus import read_corpus, read_pairs
from lex_dpr.training.health import embedding_health
from lex_dpr.training.kfold import group_folds, train_kfold
from lex_dpr.utils.text import normalize_query


def test_group_folds_never_split_a_precedent(shared_or_sample_pairs):
    pairs = shared_or_sample_pairs
    folds = group_folds(pairs, 5, seed=3)
    assert sorted(j for f in folds for j in f) == list(range(len(pairs)))  # every pair in exactly one fold
    fold_of = {j: i for i, fold in enumerate(folds) for j in fold}
    for key in (lambda p: p["meta"]["prec_id"], lambda p: normalize_query(p["query_text"])):
        owner = {}
        for j, p in enumerate(pairs):  # no precedent, and no query text, in two folds
            k = key(p)
            assert owner.setdefault(k, fold_of[j]) == fold_of[j], f"{k} in folds {owner[k]} and {fold_of[j]}"
    assert max(map(len, folds)) - min(map(len, folds)) <= max(len(pairs) // 20, 8)
    assert group_folds(pairs, 5, seed=3) == folds
    # the data really tests the grouping: precedents with several pairs, and a query text in two precedents
    by_prec = Counter(p["meta"]["prec_id"] for p in pairs)
    precs_of_text = defaultdict(set)
    for p in pairs:
        precs_of_text[normalize_query(p["query_text"])].add(p["meta"]["prec_id"])
    assert max(by_prec.values()) >= 2 and any(len(v) > 1 for v in precs_of_text.values())


def _shared_subset_pairs(shared_dir, root):
    """make-pairs over the shared laws and admin rules and every 20th shared precedent (~1,000; ~2 s)."""
    from lex_dpr.data.preprocess import preprocess
    from lex_dpr.mining.make_pairs import MakePairsConfig, make_pairs, split_paths

    for kind, step in (("laws", 1), ("admin_rules", 1), ("precedents", 20)):
        (root / kind).mkdir(parents=True)
        for f in sorted((shared_dir / kind).glob("*.json"))[::step]:
            (root / kind / f.name).symlink_to(f)
    out = {k: root / f"{k}.jsonl" for k in ("law", "admin", "prec")}
    preprocess(root, out["law"], out["admin"], out["prec"])
    cfg = MakePairsConfig(law=str(out["law"]), admin=str(out["admin"]), prec_json_dir=str(root / "precedents"),
                          out=str(root / "pairs_train.jsonl"), negatives="random", hn_per_q=0, cache_dir="")
    make_pairs(cfg)
    paths = split_paths(cfg.out)
    return read_pairs(paths["train"]) + read_pairs(paths["valid"])


@pytest.fixture(params=["sample", pytest.param("shared", marks=[pytest.mark.shared_data, pytest.mark.slow])])
def shared_or_sample_pairs(request, sample_training_data, tmp_path):
    """The sample's pairs, and pairs mined from a subset of ../shared/data/lexdpr (skipped when absent)."""
    if request.param == "shared":
        pairs = _shared_subset_pairs(request.getfixturevalue("shared_dir"), tmp_path / "shared")
        assert len(pairs) > 500 and len({p["meta"]["prec_id"] for p in pairs}) > 300
        return pairs
    pairs = read_pairs(sample_training_data["pairs"]) + read_pairs(sample_training_data["valid_pairs"])
    # as in the shared data, 판시사항 repeated word for word in later precedents (spacing aside)
    twins = [{**p, "query_id": f"PREC_99999{i}_Q1", "query_text": p["query_text"].replace(" ", "  "),
              "meta": {**p["meta"], "prec_id": f"99999{i}"}} for i, p in enumerate(pairs[:10:2])]
    return [*pairs, *twins]


@pytest.mark.slow
def test_kfold_runs_summary_and_ensemble(sample_training_data, tmp_path):
    cfg = load_config(None, [f"data.{k}={v}" for k, v in sample_training_data.items()] + [
        f"out_dir={tmp_path}", "model.vocab_size=400", "model.embedding_dim=16", "trainer.batch_size=8",
        "trainer.epochs=1", "wandb.mode=disabled"])
    result = train_kfold(cfg, 2, show_progress=False)
    assert len(result.folds) == 2 and set(result.mean) == set(result.out_of_fold)
    assert orjson.loads((tmp_path / "kfold_summary.json").read_bytes())["ensemble_dir"] == str(tmp_path / "ensemble")
    ensemble = load_encoder(tmp_path / "ensemble", device="cpu")
    members = [load_encoder(tmp_path / f"fold-{i}", device="cpu") for i in range(2)]
    texts = ["불법행위 손해배상", "개인정보"]
    mean = np.mean([m.encode_document(texts, normalize_embeddings=True) for m in members], axis=0)
    mean /= np.linalg.norm(mean, axis=1, keepdims=True)
    assert np.allclose(ensemble.encode_document(texts), mean, atol=1e-6)
    # resuming a finished k-fold run reuses the fold models instead of retraining
    again = train_kfold(cfg, 2, resume=True, show_progress=False)
    assert again.out_of_fold == pytest.approx(result.out_of_fold)


@pytest.mark.slow
def test_train_cli_kfold_table(sample_training_data, tmp_path):
    args = ["train", *(f"data.{k}={v}" for k, v in sample_training_data.items()), "model.vocab_size=400",
            "model.embedding_dim=16", "trainer.batch_size=8", "trainer.epochs=1", "wandb.mode=disabled",
            "--folds", "2", "--out-dir", str(tmp_path), "--quiet"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "k-fold (2)" in result.output and "fold-1" in result.output
    summary = orjson.loads((tmp_path / "kfold_summary.json").read_bytes())
    assert len(summary["folds"]) == 2 and summary["out_of_fold"]["ndcg_at_10"] >= 0
    assert (tmp_path / "fold-0" / "bi_encoder" / "final").is_dir() and (tmp_path / "ensemble" / "ensemble.json").is_file()


def test_collapse_warning_fires_on_a_collapsed_model(sample_training_data, caplog):
    import torch

    from lex_dpr.models.static import build_static_model

    corpus = read_corpus(sample_training_data["passages"])
    model = build_static_model(corpus.texts, 400, 16, 256, seed=0)
    queries = ["불법행위 손해배상", "개인정보 유출", "임대차 보증금"]
    assert not embedding_health(model, queries, corpus.texts[:30]).collapsed
    with torch.no_grad():
        model[0].embedding.weight[:] = torch.ones(16)  # every token, hence every text, gets the same vector
    health = embedding_health(model, queries, corpus.texts[:30])
    assert health.collapsed and health.mean_pairwise_cos > 0.99
    assert "collapsed" in health.message()
