"""``TrainConfig``: what ``lex-dpr train`` reads, mirrored by ``configs/train.yaml``.

Every key can be overridden on the command line (``trainer.lr=2e-5``, ``~trainer.lr`` for the default),
and a sweep trial is nothing but such a list. Choices are enums, numbers have ranges, and
:func:`load_config` reports every problem at once, before torch is imported.

Example:
    >>> cfg = load_config(None, ["trainer.lr=2e-5", "lora.r=16", "model.name=multilingual-e5-small"])
    >>> cfg.trainer.lr, cfg.lora.r, cfg.model.name
    (2e-05, 16, 'multilingual-e5-small')
    >>> load_config(None, ["trainer.precision=bf61", "wandb.mode=offlne", "lora.r=0"])
    Traceback (most recent call last):
    ...
    lex_dpr.errors.ConfigError: overrides: 3 problems: 'trainer.precision': 'bf61' is not one of auto, fp32, bf16, fp16 (did you mean 'bf16'?); 'wandb.mode': 'offlne' is not one of offline, online, disabled (did you mean 'offline'?); 'lora.r': 0 must be >= 1
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from lex_dpr.evaluation.metric_name import MetricName
from lex_dpr.mining.split_files import split_of, split_sibling
from lex_dpr.models.config import LoraConfig, ModelConfig
from lex_dpr.training.evaluator import not_logged
from lex_dpr.utils import config as _config
from lex_dpr.utils.config import setting


class Precision(StrEnum):
    AUTO = "auto"  # bf16 (or fp16) on CUDA, fp32 on CPU
    FP32 = "fp32"
    BF16 = "bf16"
    FP16 = "fp16"


class WandbMode(StrEnum):
    OFFLINE = "offline"  # runs under wandb/ (or wandb.dir); `wandb sync` uploads them later
    ONLINE = "online"
    DISABLED = "disabled"


AUTO = "auto"


class Metric(StrEnum):
    """The validation metric that picks the best checkpoint, stops early and ranks sweep trials.

    Each value is a :class:`~lex_dpr.evaluation.metric_name.MetricName` canonical spelling (its key,
    trainer key and direction come from there).
    """

    NDCG_AT_10 = "ndcg_at_10"
    NDCG_AT_5 = "ndcg_at_5"
    NDCG_AT_20 = "ndcg_at_20"
    NDCG_AT_100 = "ndcg_at_100"
    RECALL_AT_1 = "recall_at_1"
    RECALL_AT_5 = "recall_at_5"
    RECALL_AT_10 = "recall_at_10"
    RECALL_AT_20 = "recall_at_20"
    RECALL_AT_100 = "recall_at_100"
    HIT_AT_1 = "hit_at_1"
    HIT_AT_10 = "hit_at_10"
    MRR_AT_10 = "mrr_at_10"
    MAP_AT_100 = "map_at_100"


@dataclass
class TrainerConfig:
    lr: float = setting(0.1, gt=0)
    temperature: float = setting(0.05, gt=0, le=1)  # the loss scale is 1 / temperature (>= 1)
    weight_decay: float = setting(0.0, ge=0)
    warmup_ratio: float = setting(0.1, ge=0, le=1)
    gradient_accumulation_steps: int = setting(1, ge=1)
    max_grad_norm: float = setting(1.0, ge=0)  # 0: no clipping
    epochs: float = setting(10.0, gt=0)
    batch_size: int = setting(1024, ge=1)
    eval_steps: int = setting(0, ge=0)  # evaluate and checkpoint every N steps; 0: once per epoch
    seed: int = setting(42, ge=0)
    max_steps: int = setting(-1, ge=1, also=(-1,))  # -1: train for `epochs`
    logging_steps: int = setting(10, ge=1)
    mask_false_negatives: bool = True  # mask in-batch passages that are also a positive of the query
    # under torchrun: a query's negatives are every rank's passages, as in one process with the global batch
    # (sentence-transformers' gather_across_devices; the masked loss only: not CachedMNRL, #4027)
    gather_across_devices: bool = True
    cached_batch_threshold: int = setting(512, ge=1)  # effective batch above which CachedMNRL is used
    mini_batch_size: int = setting(32, ge=1)  # CachedMNRL chunk size
    early_stopping_patience: int = setting(3, ge=0)  # evaluations without improvement; 0 turns it off
    early_stopping_threshold: float = setting(0.0, ge=0)  # the least gain in eval.metric that counts
    save_total_limit: int = setting(2, ge=1)
    precision: Precision = Precision.AUTO
    gradient_checkpointing: bool = False  # transformers only: less memory, ~30% slower


@dataclass
class DataConfig:
    pairs: str | None = None  # required: pairs_train.jsonl from `lex-dpr make-pairs`
    extra_pairs: list[str] = field(default_factory=list)  # more training pairs (e.g. `lex-dpr synth`); never validation
    valid_pairs: str | None = "auto"  # auto: the `_valid` sibling of `pairs` if it exists; null: no validation
    passages: str | None = None  # required: merged_corpus.jsonl from `lex-dpr merge-corpus`
    hard_negatives: int = setting(2, ge=0)  # negative passages per example (0: in-batch negatives only)
    hard_negative_ratio: float = setting(1.0, ge=0, le=1)  # share of those that are mined, the rest random
    multiply: int = setting(1, ge=1)  # each (query, positive) example appears this many times
    val_negatives: int = setting(0, ge=0)  # 0: evaluate against the full corpus; N: positives + N negatives
    pseudo_queries: bool = False  # add title and inverse-cloze queries for every law/admin article
    pseudo_per_article: int = setting(1, ge=1)  # inverse-cloze sentences per article
    max_per_positive: int | None = setting(None, ge=1)  # at most N (query, passage) pairs for one passage, before multiply; pseudo-queries apart (null: all)


@dataclass
class EvalConfig:
    k_values: list[int] = setting(default_factory=lambda: [1, 3, 5, 10, 20, 100], ge=1)
    metric: Metric = Metric.NDCG_AT_10
    batch_size: int = setting(256, ge=1)

    def problems(self) -> list[str]:
        if not self.k_values:
            return ["'eval.k_values' is empty: give at least one cut-off, e.g. [1, 10]"]
        metric = MetricName.parse(self.metric.value)
        if not_logged(metric, self.k_values):
            return [f"'eval.metric': {metric.canonical} needs {metric.k} in eval.k_values (now {self.k_values})"]
        return []


@dataclass
class WandbConfig:
    mode: WandbMode = WandbMode.OFFLINE
    project: str = "lex-dpr"
    group: str | None = None  # runs of one sweep share a group
    dir: str | None = None  # where wandb/ goes; None: the current directory


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    data: DataConfig = field(default_factory=DataConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    wandb: WandbConfig = field(default_factory=WandbConfig)
    out_dir: str = "runs/latest"

    def to_dict(self) -> dict[str, Any]:
        return _config.to_dict(self)

    def problems(self) -> list[str]:
        if not self.out_dir.strip():
            return ["'out_dir' is empty: give the run folder, e.g. out_dir=runs/static"]
        return []


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """A YAML file (a path, or a bundled config's name: ``train``, ``train_lora``) plus overrides, checked.

    Raises:
        ConfigError: every problem in the file and the overrides, in one message.
    """
    from lex_dpr.resources import bundled_config

    text = None
    if path is not None and not Path(path).is_file():
        text = bundled_config(str(path))
    return _config.load(TrainConfig, path, overrides, text=text)


def resolve_data_paths(cfg: TrainConfig) -> list[str]:
    """Fill ``data.valid_pairs`` from ``data.pairs`` and check the input files; returns notes for the user.

    ``data.valid_pairs=auto`` (the default) means the ``_valid`` sibling of ``data.pairs``
    (``pairs_train.jsonl`` → ``pairs_train_valid.jsonl``, as make-pairs writes it) when that file exists,
    and no validation set otherwise; ``null`` means no validation set.

    Raises:
        ConfigError: a required path is unset or a named file does not exist (all of them at once).
    """
    problems, notes = [], []
    for key in ("pairs", "passages"):
        if not getattr(cfg.data, key):
            problems.append(f"'data.{key}' is not set (e.g. data.{key}=out/sample/"
                            f"{'pairs_train' if key == 'pairs' else 'merged_corpus'}.jsonl, from `lex-dpr "
                            f"{'make-pairs' if key == 'pairs' else 'merge-corpus'}`)")
    if cfg.data.valid_pairs == AUTO:
        cfg.data.valid_pairs = None
        if cfg.data.pairs:
            sibling = split_sibling(cfg.data.pairs, "valid")
            if sibling.is_file():
                cfg.data.valid_pairs = str(sibling)
                notes.append(f"validation pairs: {sibling} (the _valid sibling of data.pairs)")
            else:
                notes.append(f"no validation set: {sibling} does not exist (set data.valid_pairs to use another file)")
    for key in ("pairs", "valid_pairs", "passages"):
        value = getattr(cfg.data, key)
        if value and not Path(value).is_file():
            problems.append(f"'data.{key}': {value}: file not found")
    for key, value in (("pairs", cfg.data.pairs), ("valid_pairs", cfg.data.valid_pairs),
                       *((f"extra_pairs[{i}]", v) for i, v in enumerate(cfg.data.extra_pairs))):
        if value and split_of(value) == "heldout":
            problems.append(f"'data.{key}': {value} is make-pairs' held-out split (articles no training pair "
                            "cites): never train or pick checkpoints on it; score it with `lex-dpr eval` instead")
    for i, value in enumerate(cfg.data.extra_pairs):
        if not Path(value).is_file():
            problems.append(f"'data.extra_pairs[{i}]': {value}: file not found (e.g. from `lex-dpr synth --out {value}`)")
    if problems:
        from lex_dpr.errors import ConfigError

        count = f"{len(problems)} problems" if len(problems) > 1 else "1 problem"
        raise ConfigError(f"data: {count}: " + "; ".join(problems), problems=problems)
    return notes
