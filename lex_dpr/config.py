"""Run configuration: YAML files that mirror these dataclasses, plus ``section.key=value`` overrides.

A sweep is just a list of overrides applied to the same base file.

Example:
    >>> cfg = load_config(None, ["trainer.lr=2e-5", "lora.r=16", "model.name=multilingual-e5-small"])
    >>> cfg.trainer.lr, cfg.lora.r, cfg.model.name
    (2e-05, 16, 'multilingual-e5-small')
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lex_dpr.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


@dataclass
class ModelConfig:
    name: str = "static"  # alias from configs/models.yaml, hub id, local path, or "static"
    max_seq_length: int | None = None  # None: the alias default (256 for static)
    query_prompt: str | None = None  # None: the alias default
    passage_prompt: str | None = None
    embedding_dim: int = 512  # static only
    vocab_size: int = 30000  # static only: WordPiece vocabulary trained on corpus + queries
    trust_remote_code: bool = False


@dataclass
class LoraConfig:
    enabled: bool = True  # ignored for the static model (always trained in full)
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: list[str] | None = None  # None: detected from the architecture


@dataclass
class TrainerConfig:
    lr: float = 0.1
    temperature: float = 0.05  # MNRL scale = 1 / temperature
    weight_decay: float = 0.0
    warmup_ratio: float = 0.1
    gradient_accumulation_steps: int = 1
    max_grad_norm: float = 1.0
    epochs: float = 10.0
    batch_size: int = 1024
    eval_steps: int = 0  # 0: evaluate once per epoch
    seed: int = 42
    max_steps: int = -1
    logging_steps: int = 10
    mask_false_negatives: bool = True  # mask in-batch passages that are also a positive of the query
    cached_batch_threshold: int = 512  # effective batch above which CachedMNRL is used (transformers)
    mini_batch_size: int = 32  # CachedMNRL chunk size
    early_stopping_patience: int = 3  # evaluations without improvement; 0 turns it off
    save_total_limit: int = 2
    precision: str = "auto"  # auto: bf16 (or fp16) on CUDA, fp32 on CPU; or fp32|bf16|fp16


@dataclass
class DataConfig:
    pairs: str = "out/sample/pairs_train.jsonl"
    valid_pairs: str | None = "out/sample/pairs_train_valid.jsonl"
    passages: str = "out/sample/merged_corpus.jsonl"
    hard_negative_ratio: float = 2  # mined hard negatives per (query, positive) example; 0: in-batch only
    multiply: int = 1  # each (query, positive) example appears this many times, with fresh negatives
    val_negatives: int = 0  # 0: evaluate against the full corpus; N: positives + N mined negatives per query
    pseudo_queries: bool = False  # add title and inverse-cloze queries for every law/admin article
    pseudo_per_article: int = 1  # inverse-cloze sentences per article


@dataclass
class EvalConfig:
    k_values: list[int] = field(default_factory=lambda: [1, 3, 5, 10, 20, 100])
    metric: str = "ndcg_at_10"
    batch_size: int = 256


@dataclass
class WandbConfig:
    mode: str = "offline"  # offline | online | disabled
    project: str = "lex-dpr"


@dataclass
class RunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    data: DataConfig = field(default_factory=DataConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    wandb: WandbConfig = field(default_factory=WandbConfig)
    out_dir: str = "runs/latest"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> RunConfig:
    """Read a YAML file (or the defaults) and apply ``section.key=value`` overrides, checking every key."""
    raw: dict[str, Any] = {}
    if path is not None:
        raw = _read_yaml(Path(path))
    cfg = from_dict(RunConfig, raw, where=str(path or "defaults"))
    for item in overrides or []:
        apply_override(cfg, item)
    return cfg


def from_dict(cls: type, raw: dict[str, Any], where: str, prefix: str = "") -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: '{prefix.rstrip('.') or 'top level'}' must be a mapping")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in raw.items():
        if key not in fields:
            raise ConfigError(f"{where}: unknown key '{prefix}{key}'{_did_you_mean(prefix + key)}")
        ftype = _hints(cls)[key]
        if dataclasses.is_dataclass(ftype):
            kwargs[key] = from_dict(ftype, value or {}, where, f"{prefix}{key}.")
        else:
            kwargs[key] = _coerce(value, ftype, f"{prefix}{key}")
    return cls(**kwargs)


def apply_override(cfg: RunConfig, item: str) -> None:
    """Set one dotted key, e.g. ``trainer.lr=2e-5`` or ``lora.target_modules=[query,value]``."""
    import yaml

    if "=" not in item:
        raise ConfigError(f"override '{item}' is not key=value (e.g. trainer.lr=2e-5)")
    key, text = item.split("=", 1)
    *parents, leaf = key.strip().split(".")
    node: Any = cfg
    for part in parents:
        if not dataclasses.is_dataclass(node) or part not in _hints(type(node)):
            raise ConfigError(f"unknown key '{key}'{_did_you_mean(key)}")
        node = getattr(node, part)
    hints = _hints(type(node)) if dataclasses.is_dataclass(node) else {}
    if leaf not in hints or dataclasses.is_dataclass(hints[leaf]):
        raise ConfigError(f"unknown key '{key}'{_did_you_mean(key)}")
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        value = text
    setattr(node, leaf, _coerce(value, hints[leaf], key))


def all_keys(cls: type = RunConfig, prefix: str = "") -> list[str]:
    keys = []
    for name, ftype in _hints(cls).items():
        if dataclasses.is_dataclass(ftype):
            keys += all_keys(ftype, f"{prefix}{name}.")
        else:
            keys.append(prefix + name)
    return keys


def _did_you_mean(key: str) -> str:
    close = difflib.get_close_matches(key, all_keys(), n=1, cutoff=0.5)
    return f"; did you mean '{close[0]}'?" if close else ""


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce(value: Any, ftype: Any, key: str) -> Any:
    """Turn a YAML value into the field's type (YAML reads ``2e-5`` as a string, for one)."""
    args = typing.get_args(ftype)
    if isinstance(ftype, types.UnionType) or typing.get_origin(ftype) is typing.Union:
        if value is None or (isinstance(value, str) and value.lower() in {"null", "none", "~"}):
            return None
        ftype = next(a for a in args if a is not type(None))
        args = typing.get_args(ftype)
    origin = typing.get_origin(ftype)
    try:
        if origin is list:
            items = value if isinstance(value, list) else [v.strip() for v in str(value).split(",") if v.strip()]
            return [_coerce(v, args[0], key) for v in items]
        if ftype is bool:
            if isinstance(value, bool):
                return value
            if str(value).lower() in {"true", "1", "yes", "on"}:
                return True
            if str(value).lower() in {"false", "0", "no", "off"}:
                return False
            raise ValueError
        if ftype is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(float(value)) if isinstance(value, str) else int(value)
        if ftype is float:
            return float(value)
        if ftype is str:
            return str(value)
    except (TypeError, ValueError):
        pass
    else:
        return value
    raise ConfigError(f"'{key}': cannot read {value!r} as {getattr(ftype, '__name__', ftype)}")


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{line} is not valid YAML ({getattr(exc, 'problem', exc)})") from None
    return data or {}


def model_aliases() -> dict[str, dict[str, Any]]:
    """The aliases in configs/models.yaml: hub id, prompts and max length per short name."""
    return _read_yaml(CONFIG_DIR / "models.yaml")
