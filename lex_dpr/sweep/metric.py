"""Kept for :mod:`lex_dpr.sweep.trial`: a metric's names and direction live in :mod:`lex_dpr.evaluation.metric_name`.

Example:
    >>> eval_metric("eval/recall_at_5"), eval_metric("eval/loss")
    ('recall_at_5', None)
"""

from __future__ import annotations

from lex_dpr.evaluation.metric_name import MetricName


def eval_metric(key: str) -> str | None:
    """The ``eval.metric`` a trial trains with so that its best checkpoint is chosen by ``key`` (None: a loss)."""
    return MetricName.parse(key).eval_metric
