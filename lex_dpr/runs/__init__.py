"""Run folders: the record a training run writes (``record``) and reading it back to list, show, plot and check it
(``report``)."""

from __future__ import annotations

from lex_dpr.runs.record import (
    CONFIG_FILE,
    METRICS_FILE,
    RunStatus,
    checkpoints,
    has_weights,
    read_metrics,
    read_record,
    run_lock,
    write_record,
)
from lex_dpr.runs.report import RunCheck, RunSummary, check_run, find_runs, plot_runs, resolve_run, summarize

__all__ = ["CONFIG_FILE", "METRICS_FILE", "RunCheck", "RunStatus", "RunSummary", "check_run", "checkpoints",
           "find_runs", "has_weights", "plot_runs", "read_metrics", "read_record", "resolve_run", "run_lock",
           "summarize", "write_record"]
