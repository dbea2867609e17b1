"""Run folders as the user sees them: status, best metric, curves, and PASS/WARN/FAIL health checks.

Example:
    >>> summaries = [summarize(r) for r in find_runs("runs")]  # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lex_dpr.errors import InputError
from lex_dpr.models.run_folder import FINAL, RUN_SUBDIR, run_label
from lex_dpr.runs.record import (
    CONFIG_FILE,
    WEIGHT_FILES,
    checkpoints,
    has_weights,
    read_metrics,
    read_record,
)
from lex_dpr.utils.io import atomic_open

# A metric's names live in evaluation.metric_name (MetricName), which runs (layer 5) sits below and cannot
# import. The record's eval.metric is always a ranking metric's canonical spelling (training.config.Metric,
# ``ndcg_at_10``), and MetricName.key of one is ``eval/`` + it: that is all this module needs of the rule.
_DEFAULT_METRIC = "ndcg_at_10"  # evaluation.metric_name.DEFAULT.canonical: a record made before eval.metric


def _metric_key(metric: str) -> str:
    """The metrics.jsonl key of a run's ``eval.metric``: ``ndcg_at_10`` → ``eval/ndcg_at_10``."""
    return f"eval/{metric}"


def resolve_run(path: str | Path) -> Path:
    """The folder holding training_config.json: ``RUN``, ``RUN/bi_encoder`` or a fold inside a k-fold run."""
    path = Path(path)
    for cand in (path, path / RUN_SUBDIR):
        if (cand / CONFIG_FILE).is_file():
            return cand
    raise InputError(f"{path}: not a lex-dpr run (no {CONFIG_FILE} in it or in {RUN_SUBDIR}/)")


def find_runs(root: str | Path) -> list[Path]:
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: no such folder")
    return sorted(p.parent for p in root.rglob(CONFIG_FILE))


@dataclass
class RunSummary:
    run: str
    status: str
    model: str
    metric: str
    best: float | None
    steps: int
    wall_time_s: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(run: Path) -> RunSummary:
    rec = read_record(run)
    metric = rec.get("config", {}).get("eval", {}).get("metric", _DEFAULT_METRIC)
    rows = read_metrics(run)
    key = _metric_key(metric)
    values = [r[key] for r in rows if key in r]
    result = rec.get("result", {})
    return RunSummary(str(run), rec.get("status", "?"), rec.get("config", {}).get("model", {}).get("name", "?"),
                      metric, max(values) if values else None, max((r.get("step", 0) for r in rows), default=0),
                      result.get("wall_time_s"))


def series(rows: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    pts = [(r["step"], r[key]) for r in rows if key in r and isinstance(r[key], int | float)]
    return [s for s, _ in pts], [v for _, v in pts]


def plot_runs(runs: list[Path], out: str | Path, metric: str = _DEFAULT_METRIC) -> Path:
    """Train loss, valid loss and the eval metric against steps, one line per run, to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for run in runs:
        rows = read_metrics(run)
        label = run_label(run)
        for ax, key in zip(axes, ("train/loss", "eval/loss", _metric_key(metric)), strict=True):
            x, y = series(rows, key)
            if x:
                ax.plot(x, y, marker="." if len(x) < 30 else None, label=label)
    for ax, title in zip(axes, ("train loss", "valid loss", metric), strict=True):
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[-1].legend(fontsize=8)
    fig.tight_layout()
    out = Path(out)
    try:
        with atomic_open(out) as fh:
            fig.savefig(fh, format="png", dpi=100)
    finally:
        plt.close(fig)
    return out


@dataclass
class RunCheck:
    """One health check of a training run (``lex-dpr runs check``); ``--json`` writes these three keys."""

    name: str
    verdict: str  # PASS | WARN | FAIL
    detail: str


def check_run(run: Path) -> list[RunCheck]:
    """The run's health: finished, metrics present, checkpoint, finite and converging loss, overfitting."""
    rec = read_record(run)
    rows = read_metrics(run)
    status = rec.get("status", "?")
    metric = rec.get("config", {}).get("eval", {}).get("metric", _DEFAULT_METRIC)
    checks = [RunCheck("finished", {"finished": "PASS", "failed": "FAIL"}.get(status, "WARN"),
                    f"status {status}" + (f": {rec['error']}" if rec.get("error") else ""))]
    _, loss = series(rows, "train/loss")
    checks.append(RunCheck("metrics recorded", "PASS" if loss else "FAIL", f"{len(rows)} lines, {len(loss)} losses"))
    checks.append(_saved_models(run))
    bad = [v for v in loss if not math.isfinite(v)]
    checks.append(RunCheck("loss finite", "FAIL" if bad else "PASS", f"{len(bad)} non-finite of {len(loss)}"))
    checks.append(_converging(loss))
    checks.append(_overfitting(rows))
    _, scores = series(rows, _metric_key(metric))
    if len(scores) >= 2:
        improved = max(scores[1:]) > scores[0]
        checks.append(RunCheck("metric improving", "PASS" if improved else "WARN",
                            f"{metric}: first {scores[0]:.4f}, best {max(scores):.4f}"))
    else:
        checks.append(RunCheck("metric improving", "WARN", f"{len(scores)} evaluation(s) of {metric}"))
    health = rec.get("health")
    if health:
        checks.append(RunCheck("embeddings not collapsed", "FAIL" if health.get("collapsed") else "PASS",
                            f"score std {health['score_std']:.4f}, pairwise cos {health['mean_pairwise_cos']:.3f}"))
    return checks


def _saved_models(run: Path) -> RunCheck:
    """final/ (or, before the end, the checkpoints) must hold weights; cut-short checkpoints are named."""
    complete = checkpoints(run)
    cut = sorted(set(checkpoints(run, complete=False)) - set(complete))
    names = [p.name for p in complete]
    problems = [f"{p.name} incomplete (no trainer_state.json)" for p in cut]
    problems += [f"{p.name} has no weights" for p in complete if not has_weights(p)]
    final = run / FINAL
    if final.is_dir():
        names.append(FINAL)
        if not has_weights(final):
            problems.append(f"{FINAL} has no weights ({' or '.join(WEIGHT_FILES[:2])})")
    if not names:
        return RunCheck("checkpoint present", "FAIL", "; ".join(["none", *problems]))
    verdict = "FAIL" if any(p.startswith(FINAL) for p in problems) else ("WARN" if problems else "PASS")
    return RunCheck("checkpoint present", verdict, "; ".join([", ".join(names), *problems]))


def _converging(loss: list[float]) -> RunCheck:
    finite = [v for v in loss if math.isfinite(v)]
    if len(finite) < 4:
        return RunCheck("loss converging", "WARN", f"only {len(finite)} loss values")
    n = max(1, len(finite) // 5)
    first, last = sum(finite[:n]) / n, sum(finite[-n:]) / n
    verdict = "PASS" if last < first else "WARN"
    return RunCheck("loss converging", verdict, f"mean of first {n}: {first:.4f}, last {n}: {last:.4f}")


def _overfitting(rows: list[dict[str, Any]]) -> RunCheck:
    _, valid = series(rows, "eval/loss")
    if len(valid) < 3:
        return RunCheck("valid loss tracking train", "PASS", f"{len(valid)} valid-loss points")
    best = min(valid)
    rising = valid[-1] > best * 1.1 and valid.index(best) < len(valid) - 1
    detail = f"valid loss best {best:.4f}, last {valid[-1]:.4f}"
    return RunCheck("valid loss tracking train", "WARN" if rising else "PASS",
                 detail + (" (rising while training continues: overfitting)" if rising else ""))
