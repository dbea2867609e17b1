"""The trainer's progress bar shows the run's eval.metric (named by MetricName), not a fixed ndcg@10."""

from types import SimpleNamespace

from lex_dpr.evaluation.metric_name import MetricName
from lex_dpr.training.progress import RichProgress

LOGS = {"loss": 0.5, "eval_valid_cosine_ndcg@10": 0.9, "eval_valid_cosine_accuracy@1": 0.25}


def _description(bar, logs):
    bar.on_train_begin(None, SimpleNamespace(max_steps=10, global_step=0), None)
    try:
        bar.on_log(None, None, None, logs=logs)
        return bar.progress.tasks[0].description
    finally:
        bar.on_train_end(None, None, None)


def test_the_bar_shows_the_configured_metric():
    assert _description(RichProgress(MetricName.parse("hit_at_1")), LOGS) == "training loss 0.5000 hit@1 0.2500"
    assert _description(RichProgress(), LOGS) == "training loss 0.5000 ndcg@10 0.9000"  # the default eval.metric
    assert _description(RichProgress(MetricName.parse("recall_at_5")), LOGS) == "training loss 0.5000"
    assert _description(RichProgress(MetricName.parse("eval/loss")), {"eval_loss": 0.75}) == "training eval/loss 0.7500"


def test_a_training_run_shows_its_eval_metric(sample_training_data, tmp_path, monkeypatch):
    from lex_dpr.training.config import load_config
    from lex_dpr.training.train import train

    shown = []
    on_log = RichProgress.on_log

    def spy(self, args, state, control, logs=None, **kwargs):
        on_log(self, args, state, control, logs=logs, **kwargs)
        shown.append(self.progress.tasks[0].description)

    monkeypatch.setattr(RichProgress, "on_log", spy)
    cfg = load_config(None, [*(f"data.{k}={v}" for k, v in sample_training_data.items()), f"out_dir={tmp_path}",
                             "model.vocab_size=400", "model.embedding_dim=16", "trainer.batch_size=8",
                             "trainer.epochs=1", "wandb.mode=disabled", "eval.metric=recall_at_5"])
    train(cfg, show_progress=True)
    assert any(d.startswith("training") and "recall@5 " in d for d in shown), shown
    assert not any("ndcg@10" in d for d in shown)
