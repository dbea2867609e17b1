"""Trainer callbacks: metrics.jsonl, NaN guard, embedding-collapse check."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import orjson
from transformers import TrainerCallback

from lex_dpr.evaluation.metric_name import MetricName
from lex_dpr.runs.record import metric_value
from lex_dpr.training.health import embedding_health
from lex_dpr.utils.journal import open_append

log = logging.getLogger(__name__)


def metric_key(trainer_key: str) -> str:
    """Trainer log keys → lex-dpr names: ``eval_valid_cosine_ndcg@10`` → ``eval/ndcg_at_10``.

    Metrics and losses are named by :class:`~lex_dpr.evaluation.metric_name.MetricName`; every other key keeps
    its name under ``eval/`` (``eval_runtime``) or ``train/`` (``learning_rate``).

    Example:
        >>> metric_key("eval_valid_cosine_recall@5"), metric_key("loss"), metric_key("eval_loss")
        ('eval/recall_at_5', 'train/loss', 'eval/loss')
        >>> metric_key("learning_rate"), metric_key("train_loss"), metric_key("eval_runtime")
        ('train/learning_rate', 'train/train_loss', 'eval/runtime')
    """
    name = MetricName.from_trainer_key(trainer_key)
    if name is not None:
        return name.key
    if trainer_key.startswith("eval_"):
        return "eval/" + trainer_key.removeprefix("eval_")
    return "train/" + trainer_key


class MetricsFile(TrainerCallback):
    """Appends one JSON line per logged step to metrics.jsonl (train loss, lr, eval metrics).

    The file is an append-only journal (:mod:`lex_dpr.utils.journal`): a last line torn by a crash is cut away
    before the next row goes in, so that the row starts a line of its own.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, row: dict) -> None:
        """Append one row (the health check's rows too: one writer for the file)."""
        with open_append(self.path) as fh:
            fh.write(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY))

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or not state.is_world_process_zero:
            return
        row = {"step": state.global_step, "epoch": round(state.epoch or 0.0, 4)}
        row |= {metric_key(k): metric_value(float(v)) if isinstance(v, float) else v for k, v in logs.items()
                if isinstance(v, int | float)}
        self.write(row)


class NanGuard(TrainerCallback):
    """Stops at the first NaN/inf loss and keeps that step from being saved as a checkpoint."""

    def __init__(self) -> None:
        self.bad_step: int | None = None

    def on_log(self, args, state, control, logs=None, **kwargs):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            self.bad_step = state.global_step
            control.should_training_stop = True
            control.should_save = False
            control.should_evaluate = False

    def on_step_end(self, args, state, control, **kwargs):
        if self.bad_step is not None:  # never save weights trained through a NaN, even at an epoch end
            control.should_save = False
            control.should_evaluate = False

    on_epoch_end = on_step_end


class HealthCheck(TrainerCallback):
    """After every evaluation, measure score spread and passage similarity; warn on collapse."""

    def __init__(self, queries: list[str], passages: list[str], metrics: MetricsFile) -> None:
        self.queries, self.passages, self.metrics = queries, passages, metrics
        self.last = None

    def on_evaluate(self, args, state, control, model=None, **kwargs):
        if model is None or not state.is_world_process_zero:
            return
        self.last = embedding_health(model, self.queries, self.passages)
        if self.last.collapsed:
            log.warning("step %d: %s", state.global_step, self.last.message())
        self.metrics.write({"step": state.global_step, "eval/score_std": self.last.score_std,
                            "eval/mean_pairwise_cos": self.last.mean_pairwise_cos})
