"""One trial as a process: ``lex-dpr train`` spawned with the trial's overrides, watched, heartbeated, terminated.

Each trial is ``lex-dpr train`` with the trial's dotted overrides, run as a child process so that an OOM kill,
a segfault or a CUDA error in one trial cannot take the agent down; the child dies with the agent
(``PR_SET_PDEATHSIG``). While it runs, the agent writes a heartbeat (host, pid, time) into the trial, feeds each
new evaluation in the child's ``metrics.jsonl`` to the pruner, and pauses it (SIGTERM, then resume from its last
checkpoint) when the time window closes. A trial whose agent died (SIGKILL, power loss) is found by its
heartbeat (:func:`agent_gone`), marked failed and its parameters re-queued (:func:`recover_dead_trials`).
The online engine runs its trials through the same :func:`spawn`, :func:`terminate` and :func:`best_value`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lex_dpr.evaluation.metric_name import MetricName
from lex_dpr.models.run_folder import RUN_SUBDIR
from lex_dpr.runs.record import read_metrics
from lex_dpr.sweep.study import tell
from lex_dpr.utils.locks import hold_lock
from lex_dpr.utils.signals import die_with_parent

if TYPE_CHECKING:
    from lex_dpr.sweep.agent import AgentOptions
    from lex_dpr.sweep.spec import SweepSpec
    from lex_dpr.sweep.study import Sweep

log = logging.getLogger(__name__)

RUNS_DIR = "runs"
TRIAL_LOG = "train.log"
TRAIN_MODULE = "lex_dpr.cli.main"  # `python -m TRAIN_MODULE train ...` is the trial


def trial_run_dir(sweep: Sweep, number: int) -> Path:
    return sweep.folder / RUNS_DIR / f"trial-{number:04d}"


def overrides_for(spec: SweepSpec, values: dict[str, Any], run_dir: Path, *extra: str) -> list[str]:
    """A trial's whole ``lex-dpr train`` override list: the file's ``fixed``, the ``eval.metric`` that picks the
    best checkpoint by the sweep's metric, the trial's values, its folder, then ``extra``."""
    from lex_dpr.sweep.space import to_overrides

    chosen = MetricName.parse(spec.metric).eval_metric
    by_metric = [f"eval.metric={chosen}"] if chosen else []
    return [*spec.fixed, *by_metric, *to_overrides(values), f"out_dir={run_dir}", *extra]


def trial_overrides(sweep: Sweep, number: int, values: dict[str, Any]) -> list[str]:
    """An offline trial's override list (:func:`overrides_for`), grouped under the sweep in W&B."""
    return overrides_for(sweep.spec, values, trial_run_dir(sweep, number), f"wandb.group={sweep.sweep_id}",
                         f"wandb.dir={sweep.folder}")


def run_trial(sweep: Sweep, trial, values: dict[str, Any], options: AgentOptions,
              emit: Callable[[str, dict], None]) -> tuple[str, float | None, str | None]:
    """Train one trial in a child process; report evaluations for pruning; tell the study the outcome.

    Returns ``(state, value, error)``: ``complete`` with the best value, ``pruned``, or ``failed`` with why.
    """
    from optuna.trial import TrialState

    run_dir = trial_run_dir(sweep, trial.number)
    overrides = trial_overrides(sweep, trial.number, values)
    trial.set_user_attr("overrides", overrides)
    trial.set_user_attr("values", {k: _jsonable(v) for k, v in values.items()})
    trial.set_user_attr("run_dir", str(run_dir))
    run_dir.mkdir(parents=True, exist_ok=True)
    resume = False
    reported: set[int] = set()
    try:
        while True:
            state = _watch(sweep, trial, spawn(overrides, run_dir, resume), run_dir, options, reported, emit)
            if state != "window closed":
                break
            resume = bool(list((run_dir / RUN_SUBDIR).glob("checkpoint-*")))
            wait_for_window(options, emit, trial)  # nothing is held while waiting: the child has exited
    except BaseException as exc:  # the agent itself is stopping (Ctrl-C, SIGTERM): the trial will run again
        _requeue(sweep, trial, f"agent stopped: {type(exc).__name__}")
        raise
    best = best_value(run_dir, sweep.spec.metric, sweep.spec.goal)
    if state == "pruned":
        tell(sweep.study, trial, state=TrialState.PRUNED)
        return "pruned", best, None
    if state == "ok" and best is None:
        state = f"no {sweep.spec.metric} was logged: give the trials a validation set (data.valid_pairs)"
    if state != "ok":
        trial.set_user_attr("error", state)
        tell(sweep.study, trial, state=TrialState.FAIL)
        return "failed", None, state
    tell(sweep.study, trial, best)
    return "complete", best, None


def logged_values(run_dir: Path, metric: str) -> list[float]:
    """Every value of ``metric`` the run logged so far (metrics.jsonl rows, in order; non-finite ones included)."""
    return [r[metric] for r in read_metrics(run_dir / RUN_SUBDIR) if isinstance(r.get(metric), int | float)]


def best_value(run_dir: Path, metric: str, goal: str) -> float | None:
    """The best value of ``metric`` the run logged (every evaluation in metrics.jsonl), or None."""
    values = [v for v in logged_values(run_dir, metric) if math.isfinite(v)]
    if not values:
        return None
    return max(values) if goal == "maximize" else min(values)


# --- dead agents ------------------------------------------------------------------------------------------


def recover_dead_trials(sweep: Sweep, options: AgentOptions) -> list[int]:
    """Mark RUNNING trials whose agent is gone as failed and re-queue their parameters; returns their numbers."""
    from optuna.trial import TrialState

    now = options.clock()
    trials = sweep.study.get_trials(deepcopy=False)
    already = {t.user_attrs.get("requeued_from") for t in trials}
    dead = []
    with _recovery_lock(sweep):
        for t in sweep.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if t.number in already or not agent_gone(t, now, options.stale_s, own_pid=os.getpid()):
                continue
            beat = t.user_attrs.get("heartbeat") or {}
            sweep.study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
            sweep.study.enqueue_trial(t.params, user_attrs={"requeued_from": t.number})
            dead.append(t.number)
            log.warning("trial %d: its agent (%s pid %s) is gone; marked failed and re-queued", t.number,
                        beat.get("host", "?"), beat.get("pid", "?"))
    return dead


def agent_gone(trial, now: float, stale_s: float, own_pid: int | None = None) -> bool:
    """Whether a RUNNING trial's agent is gone: on this host its pid is dead, or its heartbeat is older than
    ``stale_s`` (a trial with no heartbeat yet counts from its start; ``own_pid``'s trials only by their age)."""
    beat = trial.user_attrs.get("heartbeat") or {}
    last = beat.get("time") or (trial.datetime_start.timestamp() if trial.datetime_start else now)
    if beat.get("host") == socket.gethostname() and beat.get("pid") not in (None, own_pid):
        return not _alive(beat["pid"]) or now - last > stale_s
    return now - last > stale_s


def heartbeat(trial, options: AgentOptions) -> None:
    """Record that this agent (host, pid) still runs ``trial``, at ``options.clock()``."""
    trial.set_user_attr("heartbeat", {"host": socket.gethostname(), "pid": os.getpid(), "time": options.clock()})


def _requeue(sweep: Sweep, trial, why: str) -> None:
    from optuna.trial import TrialState

    with contextlib.suppress(Exception):  # best effort while the agent is going down
        trial.set_user_attr("error", why)
        sweep.study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
        sweep.study.enqueue_trial(trial.params, user_attrs={"requeued_from": trial.number})


RECOVERY_LOCK = "recover.lock"


@contextlib.contextmanager
def _recovery_lock(sweep: Sweep) -> Iterator[None]:
    """One agent at a time recovers dead trials of a journal-file sweep (an ``flock`` on ``recover.lock`` in
    the sweep folder, waited for; shared over NFS as a whole-file POSIX lock)."""
    if "://" in sweep.storage_url:
        yield  # databases: a rare double re-queue is caught by `requeued_from`
        return
    with hold_lock(sweep.folder / RECOVERY_LOCK):
        yield


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- the child process ------------------------------------------------------------------------------------


def train_command(overrides: list[str], resume: bool) -> list[str]:
    """The trial's command line: ``python -m lex_dpr.cli.main train --quiet [--resume] OVERRIDES``."""
    return [sys.executable, "-m", TRAIN_MODULE, "train", "--quiet", *(["--resume"] if resume else []), *overrides]


def spawn(overrides: list[str], run_dir: Path, resume: bool) -> subprocess.Popen:
    """Start the trial's ``lex-dpr train``, its output appended to ``run_dir/train.log`` after a ``$ command`` line."""
    cmd = train_command(overrides, resume)
    log_file = (run_dir / TRIAL_LOG).open("ab")
    log_file.write(("$ " + " ".join(cmd[2:]) + "\n").encode())
    log_file.flush()
    try:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                                preexec_fn=_die_with_parent)
    finally:
        log_file.close()


def _die_with_parent() -> None:
    """In the child: SIGTERM when the agent dies, however it dies (Linux; elsewhere the heartbeat catches it)."""
    die_with_parent(signal.SIGTERM)


def terminate(proc: subprocess.Popen, grace: float = 60.0) -> None:
    """SIGTERM (training stops at a safe point and records it), then SIGKILL after ``grace`` seconds."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def last_error(log_path: Path) -> str | None:
    """The trial's error from its log: the last ``error:``/``interrupted:`` line, else the last line."""
    try:
        lines = [x.strip() for x in log_path.read_text(encoding="utf-8", errors="replace").splitlines() if x.strip()]
    except OSError:
        return None
    errors = [x for x in lines if x.startswith(("error:", "interrupted:"))]
    line = (errors or lines or [None])[-1]
    return line.removeprefix("error:").strip() if line else None


def _watch(sweep: Sweep, trial, proc: subprocess.Popen, run_dir: Path, options: AgentOptions, reported: set[int],
           emit: Callable[[str, dict], None]) -> str:
    """Wait for the child; heartbeat, report evaluations, prune, pause outside the window. Returns the outcome."""
    last_beat = -1e18
    try:
        while proc.poll() is None:
            if options.clock() - last_beat >= options.heartbeat_s:
                heartbeat(trial, options)
                last_beat = options.clock()
            if _report(sweep, trial, run_dir, reported, emit):
                terminate(proc)
                return "pruned"
            if options.window is not None and not options.window.contains(_aware(options.clock())):
                emit("pause", {"number": trial.number})
                terminate(proc)
                return "window closed"
            options.sleep(options.poll_s)
    except BaseException:
        terminate(proc)
        raise
    if _report(sweep, trial, run_dir, reported, emit):
        return "pruned"
    if proc.returncode == 0:
        return "ok"
    return last_error(run_dir / TRIAL_LOG) or f"lex-dpr train exited with {proc.returncode}"


def _report(sweep: Sweep, trial, run_dir: Path, reported: set[int], emit) -> bool:
    """Feed new evaluations of the sweep's metric to the pruner; True when it says prune."""
    if sweep.spec.early_terminate is None:
        return False
    for i, v in enumerate(logged_values(run_dir, sweep.spec.metric)):
        if i in reported or not math.isfinite(v):
            continue
        reported.add(i)
        trial.report(v, i + 1)
        if trial.should_prune():
            emit("prune", {"number": trial.number, "step": i + 1, "value": v})
            return True
    return False


def wait_for_window(options: AgentOptions, emit, trial=None) -> None:
    """Block until the time window opens (a countdown through ``emit``); keep a paused trial's heartbeat."""
    from lex_dpr.sweep.window import wait_for_window as wait

    def sleep(seconds: float) -> None:
        if trial is not None:
            heartbeat(trial, options)
        options.sleep(seconds)

    wait(options.window, lambda: _aware(options.clock()), sleep,
         lambda s: emit("waiting", {"seconds": s, "window": options.window.describe()}))


def _aware(timestamp: float):
    from datetime import datetime

    return datetime.fromtimestamp(timestamp).astimezone()


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | type(None) | list) else str(value)
