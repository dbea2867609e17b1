"""Sweep files from the predecessor (LexDPR): its keys mapped to lex-dpr's, or refused with the reason.

A predecessor key may appear as a parameter (with ``value`` / ``values``, or a distribution for plain
renames), in ``fixed``, or (``seed``, ``test_run``) at the top of the sweep file. Every key that would
change training is either mapped or an error; none is dropped silently. :func:`map_value` turns one value
into the lex-dpr override it means (``None``: the value changes nothing), and :func:`legacy_table` gives
the rows the CLI prints once.

Example:
    >>> map_value("model.peft.r", 16), map_value("trainer.use_amp", False), map_value("model.bi_model", True)
    (('lora.r', 16), ('trainer.precision', 'fp32'), None)
    >>> map_value("trainer.early_stopping.metric", "eval_ndcg@10")
    ('eval.metric', 'ndcg_at_10')
    >>> map_value("trainer.use_full_corpus_negatives", True)
    Traceback (most recent call last):
    ...
    ValueError: 'trainer.use_full_corpus_negatives': true cannot be honoured: lex-dpr scores in-batch + mined negatives, full-corpus negatives are not implemented (set it to false or remove it)
    >>> legacy_table([lookup("data.batches.bi")])
    [('data.batches.bi', 'trainer.batch_size', 'the batch size (queries per step) is trainer.batch_size')]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

BGE_QUERY_PROMPT = "Represent this sentence for searching relevant passages: "
NO_CHANGE: Any = object()  # what a converter returns for a value that changes nothing
_BI_ENCODER = "lex-dpr always trains a bi-encoder"
_FULL_CORPUS = "lex-dpr scores in-batch + mined negatives, full-corpus negatives are not implemented"


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
    convert: Callable[[str, Any], Any] | None = None  # None: a plain rename, the value passes unchanged


def _flag(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    raise ValueError(f"'{key}' takes true or false, not {value!r}")


def metric_name(name: Any) -> str:
    """A predecessor or W&B metric name in lex-dpr's form: ``eval_ndcg@10`` / ``eval/NDCG@10`` → ``ndcg_at_10``.

    Example:
        >>> metric_name("eval_recall@5"), metric_name("eval/mrr_at_10"), metric_name("ndcg@10")
        ('recall_at_5', 'mrr_at_10', 'ndcg_at_10')
    """
    text = str(name).strip().lower()
    for prefix in ("eval/", "eval_", "val/", "val_"):
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    return re.sub(r"\s*@\s*", "_at_", text)


def _bi_model(key: str, value: Any) -> Any:
    if _flag(key, value):
        return NO_CHANGE
    raise ValueError(f"'{key}': false cannot be honoured: {_BI_ENCODER} (set it to true or remove it)")


def _full_corpus(key: str, value: Any) -> Any:
    if not _flag(key, value):
        return NO_CHANGE
    raise ValueError(f"'{key}': true cannot be honoured: {_FULL_CORPUS} (set it to false or remove it)")


def _when_false(result: Any) -> Callable[[str, Any], Any]:
    return lambda key, value: NO_CHANGE if _flag(key, value) else result


def _when_true(result: Any) -> Callable[[str, Any], Any]:
    return lambda key, value: result if _flag(key, value) else NO_CHANGE


_LORA = "LoRA settings live in the lora section"
_RULES: dict[str, _Rule] = {
    "model.peft.r": _Rule("lora.r", _LORA),
    "model.peft.alpha": _Rule("lora.alpha", _LORA),
    "model.peft.dropout": _Rule("lora.dropout", _LORA),
    "model.peft.target_modules": _Rule("lora.target_modules", _LORA),
    "model.peft.enabled": _Rule("lora.enabled", _LORA),
    "data.batches.bi": _Rule("trainer.batch_size", "the batch size (queries per step) is trainer.batch_size"),
    "trainer.gradient_clip_norm": _Rule("trainer.max_grad_norm", "renamed (0 turns clipping off)"),
    "model.bi_model": _Rule(None, f"{_BI_ENCODER}: true changes nothing, false is an error", _bi_model),
    "model.max_len": _Rule("model.max_seq_length", "renamed"),
    "data.use_hard_negatives": _Rule("data.hard_negatives", "false → data.hard_negatives=0 (in-batch negatives "
                                     "only), true changes nothing", _when_false(0)),
    "trainer.num_negatives_per_query": _Rule("data.hard_negatives", "negatives per example are data.hard_negatives"),
    "trainer.use_full_corpus_negatives": _Rule(None, f"{_FULL_CORPUS}: false changes nothing, true is an error",
                                               _full_corpus),
    "trainer.early_stopping.patience": _Rule("trainer.early_stopping_patience", "renamed"),
    "trainer.early_stopping.min_delta": _Rule("trainer.early_stopping_threshold", "renamed"),
    "trainer.early_stopping.metric": _Rule("eval.metric", "eval_ndcg@10 style names → ndcg_at_10 (eval.metric also "
                                           "picks the best checkpoint)", lambda key, value: metric_name(value)),
    "trainer.early_stopping.enabled": _Rule("trainer.early_stopping_patience", "false → trainer.early_stopping_patience"
                                            "=0 (off), true changes nothing", _when_false(0)),
    "trainer.gradient_checkpointing": _Rule("trainer.gradient_checkpointing", "the same key in lex-dpr"),
    "trainer.use_amp": _Rule("trainer.precision", "true → auto (bf16/fp16 on CUDA), false → fp32",
                             lambda key, value: "auto" if _flag(key, value) else "fp32"),
    "model.use_bge_template": _Rule("model.query_prompt", "true → the BGE query instruction as model.query_prompt, "
                                    "false changes nothing", _when_true(BGE_QUERY_PROMPT)),
    "seed": _Rule("trainer.seed", "the seed is trainer.seed"),
    "test_run": _Rule("trainer.max_steps", "true → trainer.max_steps=10 (a smoke run), false changes nothing",
                      _when_true(10)),
}
LEGACY_KEYS = tuple(_RULES)
TOP_LEVEL = ("seed", "test_run")  # predecessor keys that sit at the top of a sweep file


def lookup(key: str) -> LegacyMapping | None:
    """The mapping of a predecessor key, or ``None`` when ``key`` is not one."""
    rule = _RULES.get(key)
    return None if rule is None else LegacyMapping(key, rule.new, rule.reason)


def converts_values(key: str) -> bool:
    """True when the key's values are translated (flags), not passed through: only value/values can be mapped."""
    return _RULES[key].convert is not None


def map_value(key: str, value: Any) -> tuple[str, Any] | None:
    """``(new key, new value)`` for a predecessor key's value; ``None`` when the value changes nothing.

    Raises:
        ValueError: the value cannot be honoured by lex-dpr (the message names the key and the reason).
    """
    rule = _RULES[key]
    new_value = value if rule.convert is None else rule.convert(key, value)
    if new_value is NO_CHANGE or rule.new is None:
        return None
    return rule.new, new_value


def legacy_table(mappings: Iterable[LegacyMapping]) -> list[tuple[str, str, str]]:
    """Rows ``(old key, new key or "—", reason)`` for the one-time table of a predecessor file's keys."""
    return [(m.old, m.new or "—", m.reason) for m in mappings]
