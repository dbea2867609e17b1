"""Predecessor (LexDPR) sweep files: every key is mapped or refused with its reason, none dropped silently."""

from __future__ import annotations

import pytest

from lex_dpr.errors import ConfigError
from lex_dpr.sweep.parse import load_sweep, parse_sweep
from lex_dpr.sweep.legacy import BGE_QUERY_PROMPT, LEGACY_KEYS, legacy_table, lookup, map_value
from lex_dpr.sweep.space import resolved_values
from lex_dpr.training.config import load_config

PREDECESSOR = """\
# a LexDPR sweep, as users bring it
method: random
metric:
  name: eval_ndcg@10
  goal: maximize
seed: 7
test_run: true
parameters:
  model.peft.r: {values: [8, 16]}
  model.peft.alpha: {distribution: int_uniform, min: 8, max: 32}
  model.peft.dropout: {min: 0.0, max: 0.2}
  model.peft.target_modules: {values: [[q_proj, v_proj], [query, key, value]]}
  data.batches.bi: {values: [64, 128]}
  trainer.gradient_clip_norm: {min: 0.5, max: 2.0}
  model.max_len: {values: [128, 256]}
  trainer.use_amp: {values: [true, false]}
  trainer.num_negatives_per_query: {values: [16, 32]}
  trainer.early_stopping.patience: {values: [2, 4]}
  model.use_bge_template: {value: true}
  model.bi_model: {values: [ko-simcse, bge-m3-ko]}
  data.multiply: {values: [0, 1, 2]}
fixed:
  model.peft.enabled: true
  data.use_hard_negatives: true
  trainer.use_full_corpus_negatives: true
  trainer.early_stopping.min_delta: 0.001
  trainer.early_stopping.metric: eval_recall@10
  trainer.early_stopping.enabled: true
  trainer.gradient_checkpointing: true
  trainer.early_stopping.mode: max
  trainer.early_stopping.restore_best_weights: true
  trainer.k: 20
  trainer.k_values: [1, 3, 5, 10]
"""

TABLE = [
    ("model.peft.enabled", "lora.enabled", "LoRA settings live in the lora section"),
    ("data.use_hard_negatives", "data.hard_negatives", "false → data.hard_negatives=0 (in-batch negatives only), "
                                                       "true changes nothing"),
    ("trainer.use_full_corpus_negatives", "data.val_negatives", "true → data.val_negatives = "
     "trainer.num_negatives_per_query (LexDPR's default 1000); false changes nothing (validation ranks the whole "
     "corpus)"),
    ("trainer.early_stopping.min_delta", "trainer.early_stopping_threshold", "renamed"),
    ("trainer.early_stopping.metric", "eval.metric", "cosine_ndcg@10 / eval_ndcg@10 style names → ndcg_at_10 (eval.metric also picks "
                                                     "the best checkpoint)"),
    ("trainer.early_stopping.enabled", "trainer.early_stopping_patience", "false → trainer.early_stopping_patience=0 "
                                                                          "(off), true changes nothing"),
    ("trainer.early_stopping.mode", "—", "must agree with the metric's direction (max for ndcg, recall, mrr, map; "
                                         "min for a loss)"),
    ("trainer.early_stopping.restore_best_weights", "—", "final/ is always the best checkpoint"),
    ("trainer.k", "eval.k_values", "the evaluation cut-off, added to eval.k_values"),
    ("trainer.k_values", "eval.k_values", "the evaluation cut-offs"),
    ("seed", "trainer.seed", "the seed is trainer.seed"),
    ("test_run", "trainer.max_steps", "true → trainer.max_steps=10 (a smoke run), false changes nothing"),
    ("model.peft.r", "lora.r", "LoRA settings live in the lora section"),
    ("model.peft.alpha", "lora.alpha", "LoRA settings live in the lora section"),
    ("model.peft.dropout", "lora.dropout", "LoRA settings live in the lora section"),
    ("model.peft.target_modules", "lora.target_modules", "LoRA settings live in the lora section"),
    ("data.batches.bi", "trainer.batch_size", "the batch size (queries per step) is trainer.batch_size"),
    ("trainer.gradient_clip_norm", "trainer.max_grad_norm", "renamed (0 turns clipping off)"),
    ("model.max_len", "model.max_seq_length", "renamed"),
    ("trainer.use_amp", "trainer.precision", "true → auto (bf16/fp16 on CUDA), false → fp32"),
    ("trainer.num_negatives_per_query", "data.val_negatives", "negatives per validation query (LexDPR's validation "
     "loss, with trainer.use_full_corpus_negatives); lex-dpr takes each validation pair's first N mined negatives"),
    ("trainer.early_stopping.patience", "trainer.early_stopping_patience", "renamed"),
    ("model.use_bge_template", "model.query_prompt", "true → the BGE query instruction as model.query_prompt, false "
                                                     "changes nothing"),
    ("model.bi_model", "model.name", "the base model's name (LexDPR logs it as the run's model)"),
    ("data.multiply", "data.multiply", "LexDPR counts extra copies: its 0 (each pair once) is 1, n is n+1"),
]


@pytest.fixture
def predecessor(tmp_path):
    path = tmp_path / "lexdpr_sweep.yaml"
    path.write_text(PREDECESSOR, encoding="utf-8")
    return path


def test_a_predecessor_file_is_accepted(predecessor):
    spec = load_sweep(predecessor)
    assert spec.metric == "eval/ndcg_at_10"
    got = {k: (p.distribution, p.values if p.values is not None else p.value) for k, p in spec.parameters.items()}
    assert got == {
        "lora.r": ("categorical", [8, 16]),
        "lora.alpha": ("int_uniform", None),
        "lora.dropout": ("uniform", None),
        "lora.target_modules": ("categorical", [["q_proj", "v_proj"], ["query", "key", "value"]]),
        "trainer.batch_size": ("categorical", [64, 128]),
        "trainer.max_grad_norm": ("uniform", None),
        "model.max_seq_length": ("categorical", [128, 256]),
        "trainer.precision": ("categorical", ["auto", "fp32"]),
        "data.val_negatives": ("categorical", [16, 32]),
        "trainer.early_stopping_patience": ("categorical", [2, 4]),
        "model.query_prompt": ("constant", BGE_QUERY_PROMPT),
        "model.name": ("categorical", ["ko-simcse", "bge-m3-ko"]),
        "data.multiply": ("categorical", [1, 2, 3]),
    }
    assert spec.fixed == ["lora.enabled=true", "trainer.early_stopping_threshold=0.001", "eval.metric=recall_at_10",
                          "trainer.gradient_checkpointing=true", "eval.k_values=[1, 3, 5, 10, 20]", "trainer.seed=7",
                          "trainer.max_steps=10"]
    cfg = load_config(None, spec.fixed)
    assert (cfg.trainer.seed, cfg.trainer.max_steps, cfg.eval.metric.value) == (7, 10, "recall_at_10")
    assert cfg.eval.k_values == [1, 3, 5, 10, 20]
    notes = "\n".join(spec.notes)
    assert "test_run: true → trainer.max_steps=10" in notes
    assert ("trainer.use_full_corpus_negatives: true changes nothing (the negatives per query come from "
            "trainer.num_negatives_per_query)") in notes
    assert "data.use_hard_negatives: true changes nothing" in notes
    # a trial's values become overrides of the new keys
    trial = {"lora.r": 16, "lora.alpha": 9, "lora.dropout": 0.1, "lora.target_modules": "[query, key, value]",
             "trainer.batch_size": 64, "trainer.max_grad_norm": 1.0, "model.max_seq_length": 256,
             "trainer.precision": "fp32", "data.val_negatives": 32, "trainer.early_stopping_patience": 4,
             "model.name": "bge-m3-ko", "data.multiply": 2}
    values = resolved_values(trial, spec.parameters)
    assert values["lora.target_modules"] == ["query", "key", "value"]
    assert values["model.query_prompt"] == BGE_QUERY_PROMPT


def test_the_mapping_table(predecessor):
    spec = load_sweep(predecessor)
    assert legacy_table(spec.legacy) == TABLE


def test_nothing_that_changes_training_is_dropped_silently(predecessor):
    spec = load_sweep(predecessor)
    listed = {old for old, _, _ in legacy_table(spec.legacy)}
    # every predecessor key is in the table, except gradient_checkpointing: the same key in lex-dpr
    assert listed == set(LEGACY_KEYS) - {"trainer.gradient_checkpointing"}
    notes = "\n".join(spec.notes)
    assert "trainer.k_values: [1, 3, 5, 10] changes nothing (joined with trainer.k into eval.k_values)" in notes
    assert "trainer.early_stopping.mode: max changes nothing (eval_recall@10 is better larger" in notes
    assert "trainer.early_stopping.restore_best_weights: true changes nothing (final/ is already the best" in notes
    assert "data.multiply: 0 → data.multiply=1" in notes
    assert "trainer.gradient_checkpointing=true" in spec.fixed
    assert lookup("trainer.gradient_checkpointing").new == "trainer.gradient_checkpointing"
    # flags swept as values: each value mapped; true (no change) is the value the key has without the flag
    spec = parse_sweep({"method": "random", "parameters": {"data.use_hard_negatives": {"values": [True, False]}},
                        "fixed": ["data.hard_negative_ratio=0.5", "trainer.early_stopping.enabled=false"]})
    assert spec.parameters["data.hard_negatives"].values == [2, 0]
    assert spec.fixed == ["data.hard_negative_ratio=0.5", "trainer.early_stopping_patience=0"]
    assert [m.old for m in spec.legacy] == ["trainer.early_stopping.enabled", "data.use_hard_negatives"]


@pytest.mark.parametrize(("where", "reason"), [
    ({"parameters": {"model.bi_model": {"value": False}}},
     "'model.bi_model': False is not a model name: it is LexDPR's base model"),
    ({"parameters": {"trainer.use_full_corpus_negatives": {"values": [False, True]},
                     "trainer.num_negatives_per_query": {"values": [16, 32]}}},
     "'trainer.num_negatives_per_query' with trainer.use_full_corpus_negatives swept over true and false: sweep "
     "data.val_negatives instead"),
    ({"fixed": ["model.bi_model=true"]}, "'model.bi_model': True is not a model name"),
    ({"fixed": {"trainer.early_stopping.metric": "cosine_recall@10", "trainer.early_stopping.mode": "min"}},
     "'trainer.early_stopping.mode': min disagrees with the metric cosine_recall@10, which is better larger: use max"),
    ({"fixed": {"trainer.early_stopping.mode": "min"}},
     "'trainer.early_stopping.mode': min disagrees with the metric cosine_ndcg@10"),  # LexDPR's default metric
    ({"fixed": {"trainer.early_stopping.mode": "maximum"}}, "'trainer.early_stopping.mode': 'maximum' must be max or min"),
    ({"fixed": {"data.batches.bi": 8, "data.multiply": -1}},
     "'data.multiply': -1 must be a whole number >= 0 (LexDPR's extra copies of each pair)"),
])
def test_values_lex_dpr_cannot_honour_are_errors(where, reason):
    raw = {"method": "random", "parameters": {"lora.r": {"values": [8]}}, **where}
    if "parameters" in where:
        raw["parameters"] = {"lora.r": {"values": [8]}, **where["parameters"]}
    with pytest.raises(ConfigError) as err:
        parse_sweep(raw)
    assert reason in str(err.value)


def test_legacy_problems_are_specific():
    with pytest.raises(ConfigError) as err:
        parse_sweep({"method": "random", "parameters": {
            "trainer.use_amp": {"min": 0, "max": 1},
            "model.peft.r": {"values": [0, 8]},
            "data.use_hard_negatives": {"values": [True, False]},
            "data.hard_negatives": {"values": [2, 4]},
            "model.use_bge_template": {"value": "yes"}}})
    message = str(err.value)
    assert "'parameters.trainer.use_amp': this predecessor key takes value or values, not a distribution" in message
    assert "'parameters.model.peft.r': value 0 is rejected by training: 'lora.r': 0 must be >= 1" in message
    assert ("'parameters.data.hard_negatives' and 'parameters.data.use_hard_negatives' both set "
            "'data.hard_negatives': keep one") in message
    assert "'model.use_bge_template' takes true or false, not 'yes'" in message


def test_map_value():
    assert map_value("trainer.early_stopping.metric", "eval/NDCG@10") == ("eval.metric", "ndcg_at_10")
    assert map_value("trainer.use_amp", "true") == ("trainer.precision", "auto")
    assert map_value("test_run", False) is None and map_value("seed", 3) == ("trainer.seed", 3)
    with pytest.raises(ConfigError, match=r"'trainer.max_steps' is set twice in fixed \(by trainer.max_steps and test_run\)"):
        parse_sweep({"method": "random", "parameters": {"lora.r": {"values": [8]}}, "test_run": True,
                     "fixed": {"trainer.max_steps": 100}})
    assert lookup("lora.r") is None
