"""A rich progress bar for the trainer (steps, loss, the run's validation metric) in place of tqdm."""

from __future__ import annotations

from transformers import TrainerCallback

from lex_dpr.evaluation.metric_name import DEFAULT, MetricName
from lex_dpr.utils.progress import new_progress


class RichProgress(TrainerCallback):
    """The training bar (lex-dpr's one bar style, :func:`~lex_dpr.utils.progress.new_progress`), described by the
    last training loss and the last value of ``metric``, the run's ``eval.metric`` (``training loss 0.4210 ndcg@10
    0.5123``)."""

    def __init__(self, metric: MetricName = DEFAULT) -> None:
        self.progress = None
        self.task = None
        self.trainer_key = metric.trainer_key()  # the key the trainer logs the metric under
        self.label = metric.key if metric.is_loss else f"{metric.name}@{metric.k}"

    def on_train_begin(self, args, state, control, **kwargs):
        self.progress = new_progress()
        self.progress.start()
        self.task = self.progress.add_task("training", total=state.max_steps, completed=state.global_step)

    def on_step_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.update(self.task, completed=state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.progress is None or not logs:
            return
        parts = [f"loss {logs['loss']:.4f}" if "loss" in logs else "",
                 f"{self.label} {logs[self.trainer_key]:.4f}" if self.trainer_key in logs else ""]
        self.progress.update(self.task, description="training " + " ".join(p for p in parts if p))

    def on_train_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
