"""A metric's name and direction, in every spelling a sweep meets: one home for the translations.

A metric is spelled four ways: the training's ``eval.metric`` (``ndcg_at_10``), the key training writes to
``metrics.jsonl`` and a sweep file names (``eval/ndcg_at_10``), sentence-transformers' evaluator key
(``eval_valid_cosine_ndcg@10``) and the predecessor's (``cosine_ndcg@10``). :func:`metric_name` reads any of them
as the bare name, :func:`metric_key` as the metrics.jsonl key, :func:`eval_metric` gives the ``eval.metric``
override a trial needs, and :func:`greater_is_better` is the one direction test (losses are smaller-better,
every ranking metric larger-better). :func:`not_logged` says when training does not log a key at all.

Example:
    >>> metric_name("cosine_ndcg@10"), metric_key("eval_valid_cosine_ndcg@10"), eval_metric("eval/ndcg_at_10")
    ('ndcg_at_10', 'eval/ndcg_at_10', 'ndcg_at_10')
    >>> greater_is_better("eval/recall_at_5"), greater_is_better("train/loss"), goal("eval/loss")
    (True, False, 'minimize')
    >>> not_logged("eval/mrr_at_5", [1, 10])
    'eval/mrr_at_5 is not logged by training (it logs eval/mrr_at_10 and eval/map_at_100)'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

EXAMPLES = "eval/ndcg_at_10, eval/recall_at_10, eval/mrr_at_10, eval/map_at_100, eval/loss or train/loss"
DEFAULT = "ndcg_at_10"  # the training's eval.metric when nothing sets it
ALWAYS_LOGGED_K = (1, 3, 5, 10)  # training logs ndcg/recall/precision/hit at eval.k_values ∪ these
_PREFIXES = ("eval/", "eval_", "val/", "val_", "valid_", "cosine_")


def metric_name(name: Any) -> str:
    """A predecessor, W&B or sentence-transformers metric name in lex-dpr's form.

    Example:
        >>> metric_name("eval_recall@5"), metric_name("eval/mrr_at_10"), metric_name("cosine_ndcg@10")
        ('recall_at_5', 'mrr_at_10', 'ndcg_at_10')
        >>> metric_name("eval_valid_cosine_accuracy@1")
        'hit_at_1'
    """
    text = str(name).strip().lower()
    for prefix in _PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix):]
    text = re.sub(r"\s*@\s*", "_at_", text)
    return re.sub(r"^accuracy_at_", "hit_at_", text)


def metric_key(name: Any) -> str | None:
    """The metrics.jsonl name of a sweep metric (``ndcg_at_10`` → ``eval/ndcg_at_10``), or ``None`` if not one.

    Example:
        >>> metric_key("eval/ndcg_at_10"), metric_key("eval_recall@5"), metric_key("train/loss"), metric_key("acc")
        ('eval/ndcg_at_10', 'eval/recall_at_5', 'train/loss', None)
    """
    from lex_dpr.training.config import _METRIC_NAMES

    if not isinstance(name, str):
        return None
    text = name.strip().lower()
    if text in ("train/loss", "train_loss"):
        return "train/loss"
    bare = metric_name(text)
    if bare == "loss" and text != "loss":
        return "eval/loss"
    m = re.fullmatch(rf"({'|'.join(_METRIC_NAMES)})_at_(\d+)", bare)
    return f"eval/{bare}" if m and int(m[2]) >= 1 else None


def key_of(eval_metric_name: str) -> str:
    """The metrics.jsonl key of a training ``eval.metric`` value: ``ndcg_at_10`` → ``eval/ndcg_at_10``."""
    return f"eval/{eval_metric_name}"


def eval_metric(key: str) -> str | None:
    """The ``eval.metric`` a trial trains with so that its best checkpoint is chosen by ``key`` (None: a loss)."""
    bare = key.removeprefix("eval/")
    return bare if key.startswith("eval/") and bare != "loss" else None


def greater_is_better(name: Any) -> bool:
    """The one direction test: False for losses, True for ranking metrics (ndcg, recall, mrr, map, hit, precision)."""
    return not metric_name(name).endswith("loss")


def goal(name: Any) -> str:
    """``maximize`` or ``minimize`` (Optuna's and W&B's words) for a metric."""
    return "maximize" if greater_is_better(name) else "minimize"


def mode(name: Any) -> str:
    """``max`` or ``min`` (the predecessor's ``early_stopping.mode`` words) for a metric."""
    return "max" if greater_is_better(name) else "min"


def not_logged(key: str, k_values: Iterable[int]) -> str | None:
    """Why training never logs ``key`` (with ``eval.k_values`` = ``k_values``), or None when it does (or may).

    Training logs mrr_at_10, map_at_100, and ndcg/recall/precision/hit at ``k_values`` ∪ {1, 3, 5, 10}.
    """
    m = re.fullmatch(r"eval/([a-z]+)_at_(\d+)", key)
    if not m:
        return None
    name, k = m[1], int(m[2])
    ks = sorted({*k_values, *ALWAYS_LOGGED_K})
    if name == "mrr" and k != 10 or name == "map" and k != 100:
        return f"{key} is not logged by training (it logs eval/mrr_at_10 and eval/map_at_100)"
    if name not in ("mrr", "map") and k not in ks:
        return f"{key} is not logged by training: add {k} to eval.k_values in fixed (now {ks})"
    return None
