import numpy as np
import orjson
import pytest

from lex_dpr.training.config import load_config
from lex_dpr.models.loading import load_encoder
from lex_dpr.data.corpus import read_corpus, read_pairs
from lex_dpr.training.health import embedding_health
from lex_dpr.training.kfold import group_folds, train_kfold


def test_group_folds_never_split_a_precedent(shared_or_sample_pairs):
    pairs = shared_or_sample_pairs
    folds = group_folds(pairs, 5, seed=3)
    owner = {}
    for i, fold in enumerate(folds):
        for j in fold:
            prec = pairs[j]["meta"]["prec_id"]
            assert owner.setdefault(prec, i) == i, f"precedent {prec} in folds {owner[prec]} and {i}"
    assert sorted(j for f in folds for j in f) == list(range(len(pairs)))
    assert max(map(len, folds)) - min(map(len, folds)) <= max(len(pairs) // 20, 8)


@pytest.fixture
def shared_or_sample_pairs(sample_training_data):
    return read_pairs(sample_training_data["pairs"]) + read_pairs(sample_training_data["valid_pairs"])


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
