"""Training mechanics on the sample data with tiny models (static, random BERT with and without LoRA)."""

import math

import numpy as np
import orjson
import pytest

from lex_dpr.training.config import load_config
from lex_dpr.models.loading import load_encoder
from lex_dpr.models.metadata import read_metadata
from lex_dpr.training.train import TrainingError, train
from lex_dpr.training.train import checkpoints as saved_checkpoints

STATIC = ["model.vocab_size=400", "model.embedding_dim=16", "trainer.batch_size=8", "wandb.mode=disabled",
          "trainer.logging_steps=1", "data.hard_negatives=1"]


def _cfg(data, out, *overrides):
    items = [f"data.{k}={v}" for k, v in data.items()] + [f"out_dir={out}"] + STATIC + list(overrides)
    return load_config(None, items)


def _embeddings(path, texts):
    return load_encoder(path, device="cpu").encode_document(texts, normalize_embeddings=True)


def test_static_run_folder_and_reload(sample_training_data, tmp_path):
    result = train(_cfg(sample_training_data, tmp_path / "run", "trainer.epochs=2"), show_progress=False)
    run = tmp_path / "run" / "bi_encoder"
    record = orjson.loads((run / "training_config.json").read_bytes())
    assert record["status"] == "finished" and record["inputs"]["pairs"]["sha256"]
    assert record["versions"]["sentence-transformers"] and record["config"]["trainer"]["epochs"] == 2
    rows = [orjson.loads(x) for x in (run / "metrics.jsonl").read_bytes().splitlines()]
    assert any("train/loss" in r for r in rows) and any("eval/ndcg_at_10" in r for r in rows)
    assert {"eval/recall_at_1", "eval/recall_at_10", "eval/mrr_at_10", "eval/map_at_100"} <= set(result.metrics)
    checkpoints = saved_checkpoints(run)
    assert checkpoints and all(read_metadata(c).architecture == "StaticEmbedding" for c in checkpoints)
    texts = ["불법행위로 인한 손해배상", "개인정보의 수집"]
    final = _embeddings(result.final_dir, texts)
    assert np.allclose(final, _embeddings(tmp_path / "run", texts), atol=1e-6)  # run folder resolves to final/
    best = orjson.loads((checkpoints[-1] / "trainer_state.json").read_bytes())["best_model_checkpoint"]
    assert np.abs(final - _embeddings(best, texts)).max() < 1e-6  # final/ is the best checkpoint, reloaded
    logged = next(r for r in rows if r["step"] == int(best.rsplit("-", 1)[1]) and "eval/ndcg_at_10" in r)
    assert result.metrics["eval/ndcg_at_10"] == logged["eval/ndcg_at_10"]  # the result reports final/'s scores


def test_existing_run_is_not_overwritten(sample_training_data, tmp_path):
    cfg = _cfg(sample_training_data, tmp_path / "run", "trainer.max_steps=1")
    train(cfg, show_progress=False)
    with pytest.raises(TrainingError, match="already holds a run"):
        train(cfg, show_progress=False)


@pytest.mark.slow
def test_resume_continues_the_step_count(sample_training_data, tmp_path):
    out = tmp_path / "run"
    first = train(_cfg(sample_training_data, out, "trainer.epochs=1", "data.valid_pairs=null"), show_progress=False)
    steps_per_epoch = first.steps
    # Simulate an interruption after epoch 1 of a 3-epoch run: drop final/, ask for more epochs, resume.
    import shutil

    shutil.rmtree(first.final_dir)
    with (out / "bi_encoder" / "metrics.jsonl").open("ab") as fh:  # logged after the checkpoint, then cut off
        fh.write(b'{"step": 999, "train/loss": 1.0}\n{"step": 1000, "train/lo')
    resumed = train(_cfg(sample_training_data, out, "trainer.epochs=3", "data.valid_pairs=null"), resume=True,
                    show_progress=False, allow_changes=True)  # more epochs: a deliberate change
    assert resumed.steps == 3 * steps_per_epoch
    state = orjson.loads((saved_checkpoints(out / "bi_encoder")[-1] / "trainer_state.json").read_bytes())
    assert state["global_step"] == 3 * steps_per_epoch
    steps = [orjson.loads(x)["step"] for x in (out / "bi_encoder" / "metrics.jsonl").read_bytes().splitlines()]
    assert steps == sorted(steps) and max(steps) == 3 * steps_per_epoch


@pytest.mark.slow
@pytest.mark.parametrize("lora", [True, False])
def test_tiny_bert_trains_and_reloads(sample_training_data, tiny_bert, tmp_path, lora):
    cfg = _cfg(sample_training_data, tmp_path / "run", f"model.name={tiny_bert}", "model.max_seq_length=64",
               f"lora.enabled={str(lora).lower()}", "trainer.lr=1e-3", "trainer.max_steps=3", "trainer.batch_size=4",
               "data.valid_pairs=null")
    before = _embeddings(tiny_bert, ["민법 제750조"])
    result = train(cfg, show_progress=False)
    meta = read_metadata(result.final_dir)
    assert meta.adapter is lora and meta.architecture == "BertModel" and meta.base_model == str(tiny_bert)
    assert (result.final_dir / ("adapter_model.safetensors" if lora else "model.safetensors")).is_file()
    after = _embeddings(result.final_dir, ["민법 제750조"])
    assert np.abs(after - before).max() > 1e-6  # the weights really moved
    assert np.abs(after - _embeddings(result.final_dir, ["민법 제750조"])).max() < 1e-6
    if lora:
        model = load_encoder(result.final_dir, device="cpu")
        names = {n for n, _ in model.named_parameters() if "lora_" in n}
        assert names and all(".query." in n or ".value." in n for n in names)


def test_nan_loss_stops_with_a_clear_error(sample_training_data, tmp_path):
    cfg = _cfg(sample_training_data, tmp_path / "run", "trainer.temperature=1e-45",
               "trainer.max_steps=6", "data.valid_pairs=null", "trainer.max_grad_norm=0")
    with pytest.raises(TrainingError, match="NaN/inf") as info:
        train(cfg, show_progress=False)
    record = orjson.loads((tmp_path / "run" / "bi_encoder" / "training_config.json").read_bytes())
    assert record["status"] == "failed" and "loss became NaN/inf" in record["error"]
    from safetensors.numpy import load_file

    bad_step = int(str(info.value).split("at step ")[1].split(";")[0].split(".")[0])
    for ckpt in saved_checkpoints(tmp_path / "run" / "bi_encoder"):  # none saved at or after the NaN
        assert int(ckpt.name.rsplit("-", 1)[1]) < bad_step, ckpt
        assert all(np.isfinite(w).all() for w in load_file(str(ckpt / "model.safetensors")).values()), ckpt
    assert not (tmp_path / "run" / "bi_encoder" / "final").exists()


def _param_change(data, tmp_path, name, *overrides):
    """Mean absolute change of the static embedding matrix after training with ``overrides``."""
    import torch
    from safetensors.torch import load_file

    out = tmp_path / name
    cfg = _cfg(data, out, "data.valid_pairs=null", "trainer.seed=1", "trainer.warmup_ratio=0", *overrides)
    train(cfg, show_progress=False)
    first = saved_checkpoints(out / "bi_encoder")
    after = load_file(str(first[-1] / "model.safetensors"))["embedding.weight"]
    from lex_dpr.models.static import build_static_model
    from lex_dpr.data.corpus import read_corpus, read_pairs

    corpus = read_corpus(data["passages"])
    texts = corpus.texts + [p["query_text"] for p in read_pairs(data["pairs"], corpus)]
    initial = build_static_model(texts, cfg.model.vocab_size, cfg.model.embedding_dim, 256, 1)[0].embedding.weight
    return float(torch.mean(torch.abs(after - initial.detach())))


@pytest.mark.slow
def test_optimiser_settings_are_really_applied(sample_training_data, tmp_path):
    d = sample_training_data
    base = _param_change(d, tmp_path, "base", "trainer.max_steps=2")
    # warmup over both steps: the first step runs at lr 0, so the weights move less
    assert _param_change(d, tmp_path, "warm", "trainer.max_steps=2", "trainer.warmup_ratio=0.99") < base * 0.9
    # clipping to a tiny norm: Adam's epsilon dominates and updates shrink
    assert _param_change(d, tmp_path, "clip", "trainer.max_steps=2", "trainer.max_grad_norm=1e-9") < base * 0.5
    # decoupled weight decay pulls every weight toward 0, touched by the batch or not
    assert _param_change(d, tmp_path, "decay", "trainer.max_steps=2", "trainer.weight_decay=5") > base * 1.05


@pytest.mark.slow
def test_gradient_accumulation_halves_optimizer_steps(sample_training_data, tmp_path):
    plain = train(_cfg(sample_training_data, tmp_path / "a", "trainer.epochs=1", "data.valid_pairs=null"),
                  show_progress=False)
    accum = train(_cfg(sample_training_data, tmp_path / "b", "trainer.epochs=1", "data.valid_pairs=null",
                       "trainer.gradient_accumulation_steps=2"), show_progress=False)
    assert accum.steps == math.ceil(plain.steps / 2)


@pytest.mark.slow
def test_same_data_and_seed_give_the_same_model(sample_training_data, tmp_path):
    from lex_dpr.models.static import train_wordpiece
    from lex_dpr.data.corpus import read_corpus

    texts = read_corpus(sample_training_data["passages"]).texts
    assert len({train_wordpiece(texts, 400).to_str() for _ in range(4)}) == 1  # tokenizers#1794 worked around
    finals = [train(_cfg(sample_training_data, tmp_path / name, "trainer.epochs=2"), show_progress=False).final_dir
              for name in ("a", "b")]
    assert (finals[0] / "tokenizer.json").read_bytes() == (finals[1] / "tokenizer.json").read_bytes()
    assert (finals[0] / "model.safetensors").read_bytes() == (finals[1] / "model.safetensors").read_bytes()
