"""Sweep files from the predecessor (LexDPR): its keys mapped to lex-dpr's, or refused with the reason.

A predecessor key may appear as a parameter (with ``value`` / ``values``, or a distribution for plain
renames), in ``fixed``, or (``seed``, ``test_run``) at the top of the sweep file. Every key that would
change training is either mapped or an error; none is dropped silently. :func:`map_value` turns one value
into the lex-dpr override it means (``None`` or a :class:`Skip`: the value changes nothing), and
:func:`legacy_table` gives the rows the CLI prints once. What each key means was read from LexDPR's own
code (``lex_dpr/cli/sweep.py``'s templates, ``configs/base.yaml``, ``trainer/base_trainer.py``), not
guessed from its name.

Example:
    >>> map_value("model.peft.r", 16), map_value("trainer.use_amp", False), map_value("model.bi_model", "ko-simcse")
    (('lora.r', 16), ('trainer.precision', 'fp32'), ('model.name', 'ko-simcse'))
    >>> map_value("trainer.early_stopping.metric", "cosine_recall@10"), map_value("data.multiply", 0)
    (('eval.metric', 'recall_at_10'), ('data.multiply', 1))
    >>> map_value("trainer.use_full_corpus_negatives", True), map_value("trainer.k", 20, {"trainer.k_values": [1, 10]})
    (('data.val_negatives', 1000), ('eval.k_values', [1, 10, 20]))
    >>> map_value("trainer.early_stopping.mode", "min", {"trainer.early_stopping.metric": "cosine_ndcg@10"})
    Traceback (most recent call last):
    ...
    ValueError: 'trainer.early_stopping.mode': min disagrees with the metric cosine_ndcg@10, which is better larger: use max (or remove the key: lex-dpr knows each metric's direction)
    >>> legacy_table([lookup("data.batches.bi")])
    [('data.batches.bi', 'trainer.batch_size', 'the batch size (queries per step) is trainer.batch_size')]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lex_dpr.errors import ConfigError
from lex_dpr.evaluation.metric_name import MetricName

BGE_QUERY_PROMPT = "Represent this sentence for searching relevant passages: "
NO_CHANGE: Any = object()  # what a converter returns for a value that changes nothing
MANY: Any = object()  # in a context: the key is swept over several values
LEXDPR_VAL_NEGATIVES = 1000  # LexDPR's trainer.num_negatives_per_query when the file does not set it
DEFAULT_K_VALUES = (1, 3, 5, 10, 20, 100)  # lex-dpr's eval.k_values default
_FULL = "trainer.use_full_corpus_negatives"
_PER_QUERY = "trainer.num_negatives_per_query"


class Skip:
    """A converter's answer for a value that changes nothing, with the reason shown in the notes."""

    def __init__(self, why: str) -> None:
        self.why = why


@dataclass(frozen=True)
class LegacyMapping:
    """One predecessor key: ``new`` is the lex-dpr key it maps to (``None``: not applicable), ``reason`` why."""

    old: str
    new: str | None
    reason: str


@dataclass(frozen=True)
class _Rule:
    new: str | None
    reason: str
    convert: Callable[[str, Any, Mapping[str, Any]], Any] | None = None  # None: a plain rename


def _flag(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    raise ValueError(f"'{key}' takes true or false, not {value!r}")


def _whole(key: str, value: Any, least: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(f"'{key}': {value!r} must be a whole number >= {least} ({what})")
    return value


def _model_name(key: str, value: Any, ctx: Mapping[str, Any]) -> Any:
    if isinstance(value, bool) or not isinstance(value, str) or not value.strip():
        raise ValueError(f"'{key}': {value!r} is not a model name: it is LexDPR's base model (ko-simcse, bge-m3-ko, "
                         "multilingual-minilm, multilingual-e5-small, a hub id or a local path)")
    return value.strip()


def _full_corpus(key: str, value: Any, ctx: Mapping[str, Any]) -> Any:
    if not _flag(key, value):
        return Skip("lex-dpr validates against the whole corpus already (data.val_negatives=0)")
    if _PER_QUERY in ctx:
        return Skip(f"the negatives per query come from {_PER_QUERY}")
    return LEXDPR_VAL_NEGATIVES


def _per_query(key: str, value: Any, ctx: Mapping[str, Any]) -> Any:
    full = ctx.get(_FULL, True)
    if full is MANY:
        raise ValueError(f"'{key}' with {_FULL} swept over true and false: sweep data.val_negatives instead "
                         "(0 is the whole corpus)")
    if not _flag(_FULL, full):
        return Skip(f"{_FULL} is false, so LexDPR drew no corpus negatives")
    return _whole(key, value, 1, "negatives per validation query")


def _multiply(key: str, value: Any, ctx: Mapping[str, Any]) -> Any:
    return _whole(key, value, 0, "LexDPR's extra copies of each pair") + 1


def _mode(key: str, value: Any, ctx: Mapping[str, Any]) -> Any:
    if value not in ("max", "min"):
        raise ValueError(f"'{key}': {value!r} must be max or min")
    metric = ctx.get("trainer.early_stopping.metric", "cosine_ndcg@10")
    if metric is MANY:
        return Skip("the direction follows each metric")
    try:
        want = MetricName.parse(metric).mode
    except ConfigError:
        return Skip(f"the direction follows the metric, and {metric!r} is not one lex-dpr knows")
    if value != want:
        better = "larger" if want == "max" else "smaller"
        raise ValueError(f"'{key}': {value} disagrees with the metric {metric}, which is better {better}: use {want} "
                         "(or remove the key: lex-dpr knows each metric's direction)")
    return Skip(f"{metric} is better {'larger' if want == 'max' else 'smaller'}, as lex-dpr knows")


def _metric(key: str, value: Any, ctx: Mapping[str, Any]) -> Any:
    try:
        name = MetricName.parse(value)
    except ConfigError as exc:
        raise ValueError(f"'{key}': {exc}") from None
    if name.eval_metric is None:
        raise ValueError(f"'{key}': {value!r} is a loss, but the best checkpoint and early stopping follow a ranking "
                         "metric (eval.metric, e.g. cosine_ndcg@10); to rank trials by the loss, set metric.name: "
                         f"{name.key}")
    return name.eval_metric


def _restore(key: str, value: Any, ctx: Mapping[str, Any]) -> Any:
    if _flag(key, value):
        return Skip("final/ is already the best checkpoint by eval.metric")
    return Skip("final/ is still the best checkpoint; the last weights are in the newest checkpoint-*/")


def _k(key: str, value: Any, ctx: Mapping[str, Any]) -> Any:
    k = _whole(key, value, 1, "the evaluation cut-off")
    base = ctx.get("trainer.k_values", DEFAULT_K_VALUES)
    if base is MANY:
        raise ValueError(f"'{key}' with trainer.k_values swept: sweep eval.k_values instead")
    if not isinstance(base, list | tuple) or not all(isinstance(x, int) and not isinstance(x, bool) for x in base):
        base = DEFAULT_K_VALUES  # trainer.k_values reports its own problem
    return sorted({*base, k})


def _k_values(key: str, value: Any, ctx: Mapping[str, Any]) -> Any:
    if "trainer.k" in ctx:
        return Skip("joined with trainer.k into eval.k_values")
    return value


def _when_false(result: Any) -> Callable[[str, Any, Mapping[str, Any]], Any]:
    return lambda key, value, ctx: NO_CHANGE if _flag(key, value) else result


def _when_true(result: Any) -> Callable[[str, Any, Mapping[str, Any]], Any]:
    return lambda key, value, ctx: result if _flag(key, value) else NO_CHANGE


_LORA = "LoRA settings live in the lora section"
_RULES: dict[str, _Rule] = {
    "model.peft.r": _Rule("lora.r", _LORA),
    "model.peft.alpha": _Rule("lora.alpha", _LORA),
    "model.peft.dropout": _Rule("lora.dropout", _LORA),
    "model.peft.target_modules": _Rule("lora.target_modules", _LORA),
    "model.peft.enabled": _Rule("lora.enabled", _LORA),
    "data.batches.bi": _Rule("trainer.batch_size", "the batch size (queries per step) is trainer.batch_size"),
    "trainer.gradient_clip_norm": _Rule("trainer.max_grad_norm", "renamed (0 turns clipping off)"),
    "model.bi_model": _Rule("model.name", "the base model's name (LexDPR logs it as the run's model)", _model_name),
    "model.max_len": _Rule("model.max_seq_length", "renamed"),
    "data.use_hard_negatives": _Rule("data.hard_negatives", "false → data.hard_negatives=0 (in-batch negatives "
                                     "only), true changes nothing", _when_false(0)),
    "data.multiply": _Rule("data.multiply", "LexDPR counts extra copies: its 0 (each pair once) is 1, n is n+1",
                           _multiply),
    _PER_QUERY: _Rule("data.val_negatives", "negatives per validation query (LexDPR's validation loss, with "
                      f"{_FULL}); lex-dpr takes each validation pair's first N mined negatives", _per_query),
    _FULL: _Rule("data.val_negatives", f"true → data.val_negatives = {_PER_QUERY} (LexDPR's default "
                 f"{LEXDPR_VAL_NEGATIVES}); false changes nothing (validation ranks the whole corpus)", _full_corpus),
    "trainer.early_stopping.patience": _Rule("trainer.early_stopping_patience", "renamed"),
    "trainer.early_stopping.min_delta": _Rule("trainer.early_stopping_threshold", "renamed"),
    "trainer.early_stopping.metric": _Rule("eval.metric", "cosine_ndcg@10 / eval_ndcg@10 style names → ndcg_at_10 "
                                           "(eval.metric also picks the best checkpoint)",
                                           _metric),
    "trainer.early_stopping.enabled": _Rule("trainer.early_stopping_patience", "false → trainer.early_stopping_patience"
                                            "=0 (off), true changes nothing", _when_false(0)),
    "trainer.early_stopping.mode": _Rule(None, "must agree with the metric's direction (max for ndcg, recall, mrr, "
                                         "map; min for a loss)", _mode),
    "trainer.early_stopping.restore_best_weights": _Rule(None, "final/ is always the best checkpoint", _restore),
    "trainer.k": _Rule("eval.k_values", "the evaluation cut-off, added to eval.k_values", _k),
    "trainer.k_values": _Rule("eval.k_values", "the evaluation cut-offs", _k_values),
    "trainer.gradient_checkpointing": _Rule("trainer.gradient_checkpointing", "the same key in lex-dpr"),
    "trainer.use_amp": _Rule("trainer.precision", "true → auto (bf16/fp16 on CUDA), false → fp32",
                             lambda key, value, ctx: "auto" if _flag(key, value) else "fp32"),
    "model.use_bge_template": _Rule("model.query_prompt", "true → the BGE query instruction as model.query_prompt, "
                                    "false changes nothing", _when_true(BGE_QUERY_PROMPT)),
    "seed": _Rule("trainer.seed", "the seed is trainer.seed"),
    "test_run": _Rule("trainer.max_steps", "true → trainer.max_steps=10 (a smoke run), false changes nothing",
                      _when_true(10)),
}
LEGACY_KEYS = tuple(_RULES)
TOP_LEVEL = ("seed", "test_run")  # predecessor keys that sit at the top of a sweep file
# keys lex-dpr also has, read the predecessor's way only in a predecessor file
REINTERPRETED = ("data.multiply",)
_PROGRAM = "lex_dpr/cli/train.py"  # the predecessor's `program:` line


def context(top: Mapping[str, Any], fixed: Mapping[str, Any], parameters: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """The predecessor keys of a file with their value (``MANY`` when swept), for rules that read each other.

    ``top`` is the file, ``fixed`` its fixed overrides as ``{key: value}``, ``parameters`` its ``(key, spec)`` pairs.
    """
    out: dict[str, Any] = {k: top[k] for k in TOP_LEVEL if k in top}
    out.update({k: v for k, v in fixed.items() if k in _RULES})
    for key, spec in parameters:
        if key not in _RULES or not isinstance(spec, dict):
            continue
        values = spec.get("values")
        if "value" in spec:
            out[key] = spec["value"]
        elif isinstance(values, list) and len(values) == 1:
            out[key] = values[0]
        else:
            out[key] = MANY
    return out


def is_predecessor(top: Mapping[str, Any], ctx: Mapping[str, Any], training_keys: Iterable[str]) -> bool:
    """True when the file was written for LexDPR: a key only LexDPR has, or its ``program`` line."""
    program = top.get("program")
    known = set(training_keys)
    return any(k not in known for k in ctx) or (isinstance(program, str) and program.strip().endswith(_PROGRAM))


def lookup(key: str) -> LegacyMapping | None:
    """The mapping of a predecessor key, or ``None`` when ``key`` is not one."""
    rule = _RULES.get(key)
    return None if rule is None else LegacyMapping(key, rule.new, rule.reason)


def converts_values(key: str) -> bool:
    """True when the key's values are translated (flags), not passed through: only value/values can be mapped."""
    return _RULES[key].convert is not None


def map_value(key: str, value: Any, ctx: Mapping[str, Any] | None = None) -> tuple[str, Any] | Skip | None:
    """``(new key, new value)`` for a predecessor key's value; ``None`` or a :class:`Skip` when it changes nothing.

    ``ctx`` holds the file's other predecessor keys (:func:`context`), for keys whose meaning depends on another.

    Raises:
        ValueError: the value cannot be honoured by lex-dpr (the message names the key and the reason).
    """
    rule = _RULES[key]
    new_value = value if rule.convert is None else rule.convert(key, value, ctx or {})
    if isinstance(new_value, Skip):
        return new_value
    if new_value is NO_CHANGE or rule.new is None:
        return None
    return rule.new, new_value


def legacy_table(mappings: Iterable[LegacyMapping]) -> list[tuple[str, str, str]]:
    """Rows ``(old key, new key or "—", reason)`` for the one-time table of a predecessor file's keys."""
    return [(m.old, m.new or "—", m.reason) for m in mappings]
