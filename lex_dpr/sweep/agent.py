"""The sweep agent: ask the study for a trial, train it in a child process, tell the study how it went.

Each trial is ``lex-dpr train`` with the trial's dotted overrides, run as a child process so that an
OOM kill, a segfault or a CUDA error in one trial cannot take the agent down; the child dies with the
agent (``PR_SET_PDEATHSIG``). The agent writes a heartbeat (host, pid, time) into the running trial; a
trial whose agent died (SIGKILL, power loss) is marked failed and its parameters re-queued when any
agent next starts, so a restarted sweep never runs a completed trial again and never loses one.

``run_cap`` is exact across agents: trial numbers are handed out atomically by the storage, and a trial
asked for past the cap is marked ``surplus`` and not run. Three failures in a row with the same error stop
the agent with that error.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lex_dpr.errors import InputError, LexDprError
from lex_dpr.runs.record import read_metrics
from lex_dpr.sweep.pruner import make_pruner
from lex_dpr.sweep.storage import SPEC_FILE, STOP_FILE, find_sweep, open_storage, storage_url, sweep_dir

log = logging.getLogger(__name__)

RUNS_DIR = "runs"
TRIAL_LOG = "train.log"
# Past this many finished trials the GP sampler's fit outgrows the trials it schedules
# (bench/bench_sweep.py: 0.55 s per trial at 300, 8.5 s at 1,000); TPE takes over (0.02 s at 1,000).
GP_MAX_TRIALS = 300


class SweepError(LexDprError):
    """The agent stopped on a condition the user must act on (the same failure three times, ...)."""


@dataclass
class AgentOptions:
    count: int | None = None  # trials this agent runs at most (None: until the sweep is done or stopped)
    root: Path = Path("sweeps")
    storage: str | None = None
    sampler: str = "gp"  # for method bayes: gp (Optuna's GPSampler) or tpe
    window: Any = None  # a lex_dpr.sweep.window.TimeWindow, or None: always
    heartbeat_s: float = 10.0
    stale_s: float = 300.0  # a RUNNING trial on another host with no heartbeat for this long is dead
    poll_s: float = 1.0
    max_same_failures: int = 3
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep


@dataclass
class AgentResult:
    sweep_id: str
    trials: list[int] = field(default_factory=list)  # trial numbers this agent ran
    completed: int = 0
    failed: int = 0
    pruned: int = 0
    stopped: str = ""  # why the agent ended

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Sweep:
    """An open sweep: its id, folder, spec and Optuna study."""

    sweep_id: str
    folder: Path
    spec: Any
    study: Any
    storage_url: str


def open_sweep(sweep_id: str | None, config: str | Path | None = None, options: AgentOptions | None = None,
               agents_hint: int = 1) -> Sweep:
    """Load a created sweep by id (or by the ``sweep_id`` written into its file) with its sampler and pruner."""
    import optuna

    from lex_dpr.sweep.config import parse_sweep
    from lex_dpr.utils.config import read_yaml

    options = options or AgentOptions()
    sweep_id = find_sweep(sweep_id, config, options.root)
    folder = sweep_dir(sweep_id, options.root)
    url = storage_url(folder, options.storage)
    if "://" not in url and not Path(url).is_file():
        raise InputError(f"no sweep {sweep_id!r} under {options.root}/ (no {url}); create it with "
                         "`lex-dpr sweep create --config F`")
    storage = open_storage(url, agents_hint)
    if (folder / SPEC_FILE).is_file():
        raw = read_yaml(folder / SPEC_FILE)
    else:  # an agent on another machine, sharing only the database
        try:
            raw = optuna.load_study(study_name=sweep_id, storage=storage).user_attrs["spec"]
        except KeyError:
            raise InputError(f"sweep {sweep_id!r} is not in {url}") from None
        folder.mkdir(parents=True, exist_ok=True)
    spec = parse_sweep(raw, str(folder / SPEC_FILE))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=sweep_id, storage=storage, sampler=make_sampler(spec, options.sampler),
                                  pruner=make_pruner(spec))
    except KeyError:
        raise InputError(f"sweep {sweep_id!r} is not in {url}; create it first") from None
    return Sweep(sweep_id, folder, spec, study, url)


def make_sampler(spec, name: str = "gp", finished: int = 0):
    """grid → GridSampler, random → RandomSampler, bayes → GPSampler (or TPE); ``initial_runs`` → startup trials.

    A bayes sweep with ``GP_MAX_TRIALS`` or more finished trials gets TPE even when GP was asked for.
    """
    import optuna

    from lex_dpr.sweep.space import grid_space

    if spec.method == "grid":
        return optuna.samplers.GridSampler(grid_space(spec.parameters))
    if spec.method == "random":
        return optuna.samplers.RandomSampler()
    startup = spec.initial_runs if spec.initial_runs is not None else 10
    if name == "tpe" or finished >= GP_MAX_TRIALS:
        return optuna.samplers.TPESampler(n_startup_trials=startup)
    return optuna.samplers.GPSampler(n_startup_trials=startup)


def stop_requested(sweep: Sweep) -> bool:
    return (sweep.folder / STOP_FILE).exists() or bool(sweep.study.user_attrs.get("stop"))


def request_stop(sweep: Sweep, why: str = "lex-dpr sweep stop") -> None:
    """Agents finish their current trial and exit (a file for shared folders, a study attribute for databases).

    Both record when and why, for the agent that starts on the stopped sweep (:func:`stopped_because`).
    """
    from datetime import datetime

    mark = {"at": datetime.now().astimezone().isoformat(timespec="seconds"), "why": why}
    (sweep.folder / STOP_FILE).write_text(f"{mark['at']}\n{why}\n", encoding="utf-8")
    sweep.study.set_user_attr("stop", mark)


def stopped_because(sweep: Sweep) -> str | None:
    """``"at TIME (WHY)"`` when the sweep is stopped, else None (older marks carry less: then what is known)."""
    mark = sweep.study.user_attrs.get("stop")
    stop_file = sweep.folder / STOP_FILE
    if stop_file.exists():
        lines = stop_file.read_text(encoding="utf-8", errors="replace").splitlines() + ["", ""]
        mark = {"at": lines[0].strip(), "why": lines[1].strip() or "lex-dpr sweep stop"}
    if not mark:
        return None
    if not isinstance(mark, dict):  # `True` from a lex-dpr that did not record when
        return "(lex-dpr sweep stop)"
    return " ".join(part for part in (f"at {mark['at']}" if mark.get("at") else "", f"({mark.get('why')})") if part)


def clear_stop(sweep: Sweep) -> None:
    """Undo :func:`request_stop`: agents run trials again."""
    (sweep.folder / STOP_FILE).unlink(missing_ok=True)
    if sweep.study.user_attrs.get("stop"):
        sweep.study.set_user_attr("stop", False)


def run_agent(sweep: Sweep, options: AgentOptions, on_event: Callable[[str, dict], None] | None = None) -> AgentResult:
    """Run trials until ``options.count``, the sweep's ``run_cap``, an exhausted grid, a stop, or a target."""
    import optuna
    from optuna.trial import TrialState

    from lex_dpr.sweep.space import suggest

    emit = on_event or (lambda kind, info: None)
    result = AgentResult(sweep.sweep_id)
    recover_dead_trials(sweep, options)
    same: list[str] = []
    while options.count is None or len(result.trials) < options.count:
        if stop_requested(sweep):
            result.stopped = "stop requested (lex-dpr sweep stop)"
            break
        if options.window is not None:
            _wait_for_window(options, emit)
        _maybe_switch_to_tpe(sweep, options, emit)
        if isinstance(sweep.study.sampler, optuna.samplers.GridSampler) and sweep.study.sampler.is_exhausted(sweep.study):
            result.stopped = "grid exhausted"
            break
        trial = sweep.study.ask()
        if sweep.spec.run_cap is not None and consumed_before(sweep.study, trial.number) >= sweep.spec.run_cap:
            trial.set_user_attr("surplus", True)
            _tell(sweep.study, trial, state=TrialState.FAIL)
            result.stopped = f"run_cap {sweep.spec.run_cap} reached"
            break
        values = suggest(trial, sweep.spec.parameters)
        result.trials.append(trial.number)
        emit("start", {"number": trial.number, "values": values})
        state, value, error = run_trial(sweep, trial, values, options, emit)
        emit("end", {"number": trial.number, "state": state, "value": value, "error": error})
        if state == "complete":
            result.completed += 1
            same.clear()
            target = sweep.spec.target
            if target is not None and (value >= target if sweep.spec.goal == "maximize" else value <= target):
                result.stopped = f"target {target} reached by trial {trial.number} ({value:.4f})"
                request_stop(sweep, result.stopped)
                break
        elif state == "pruned":
            result.pruned += 1
        else:
            result.failed += 1
            same.append(error or "")
            if len(same) >= options.max_same_failures and len(set(same[-options.max_same_failures:])) == 1:
                raise SweepError(f"{options.max_same_failures} trials in a row failed with: {error} "
                                 f"(logs: {sweep.folder / RUNS_DIR}/trial-*/{TRIAL_LOG})")
    else:
        result.stopped = f"count {options.count} reached"
    return result


def _maybe_switch_to_tpe(sweep: Sweep, options: AgentOptions, emit) -> None:
    import optuna

    if not isinstance(sweep.study.sampler, optuna.samplers.GPSampler):
        return
    finished = sum(t.state.name == "COMPLETE" for t in sweep.study.get_trials(deepcopy=False))
    if finished >= GP_MAX_TRIALS:
        sweep.study.sampler = make_sampler(sweep.spec, options.sampler, finished)
        emit("note", {"text": f"{finished} finished trials: the GP sampler would take seconds per trial; "
                              "TPE takes over"})


def consumed_before(study, number: int) -> int:
    """Trials with a lower number that count toward ``run_cap`` (not surplus, not re-queued after a dead agent)."""
    trials = study.get_trials(deepcopy=False)
    requeued = {t.user_attrs.get("requeued_from") for t in trials} - {None}
    return sum(1 for t in trials if t.number < number and not t.user_attrs.get("surplus") and t.number not in requeued)


def trial_run_dir(sweep: Sweep, number: int) -> Path:
    return sweep.folder / RUNS_DIR / f"trial-{number:04d}"


def trial_overrides(sweep: Sweep, number: int, values: dict[str, Any]) -> list[str]:
    """The trial's whole ``lex-dpr train`` override list: the file's ``fixed``, the trial's values, its folder."""
    from lex_dpr.sweep.space import to_overrides

    metric = sweep.spec.metric.removeprefix("eval/")
    extra = []
    if sweep.spec.metric.startswith("eval/") and metric != "loss":
        extra.append(f"eval.metric={metric}")  # the best checkpoint is chosen by the sweep's metric
    return [*sweep.spec.fixed, *extra, *to_overrides(values), f"out_dir={trial_run_dir(sweep, number)}",
            f"wandb.group={sweep.sweep_id}", f"wandb.dir={sweep.folder}"]


def run_trial(sweep: Sweep, trial, values: dict[str, Any], options: AgentOptions,
              emit: Callable[[str, dict], None]) -> tuple[str, float | None, str | None]:
    """Train one trial in a child process; report evaluations for pruning; tell the study the outcome."""
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
            state = _watch(sweep, trial, _spawn(overrides, run_dir, resume), run_dir, options, reported, emit)
            if state != "window closed":
                break
            resume = bool(list((run_dir / "bi_encoder").glob("checkpoint-*")))
            _wait_for_window(options, emit, trial)  # nothing is held while waiting: the child has exited
    except BaseException as exc:  # the agent itself is stopping (Ctrl-C, SIGTERM): the trial will run again
        _requeue(sweep, trial, values, f"agent stopped: {type(exc).__name__}")
        raise
    best = best_value(run_dir, sweep.spec.metric, sweep.spec.goal)
    if state == "pruned":
        _tell(sweep.study, trial, state=TrialState.PRUNED)
        return "pruned", best, None
    if state == "ok" and best is None:
        state = f"no {sweep.spec.metric} was logged: give the trials a validation set (data.valid_pairs)"
    if state != "ok":
        trial.set_user_attr("error", state)
        _tell(sweep.study, trial, state=TrialState.FAIL)
        return "failed", None, state
    _tell(sweep.study, trial, best)
    return "complete", best, None


def _tell(study, trial, value: float | None = None, state=None) -> None:
    """``study.tell``; the grid sampler calls ``study.stop()`` after the last grid point, which Optuna only
    allows inside ``optimize`` and reports as RuntimeError after the trial was stored: that one is harmless."""
    try:
        study.tell(trial, value, state=state)
    except RuntimeError as exc:
        if "Study.stop" not in str(exc):
            raise


def best_value(run_dir: Path, metric: str, goal: str) -> float | None:
    """The best value of ``metric`` the run logged (every evaluation in metrics.jsonl), or None."""
    import math

    values = [r[metric] for r in read_metrics(run_dir / "bi_encoder") if isinstance(r.get(metric), int | float)]
    values = [v for v in values if math.isfinite(v)]
    if not values:
        return None
    return max(values) if goal == "maximize" else min(values)


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


def _requeue(sweep: Sweep, trial, values, why: str) -> None:
    from optuna.trial import TrialState

    with contextlib.suppress(Exception):  # best effort while the agent is going down
        trial.set_user_attr("error", why)
        sweep.study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
        sweep.study.enqueue_trial(trial.params, user_attrs={"requeued_from": trial.number})


@contextlib.contextmanager
def _recovery_lock(sweep: Sweep):
    if "://" in sweep.storage_url:
        yield  # databases: a rare double re-queue is caught by `requeued_from`
        return
    from optuna.storages.journal import JournalFileOpenLock

    lock = JournalFileOpenLock(str(sweep.folder / "recover.lock"))
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _spawn(overrides: list[str], run_dir: Path, resume: bool) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "lex_dpr.cli.main", "train", "--quiet", *(["--resume"] if resume else []), *overrides]
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
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _watch(sweep: Sweep, trial, proc: subprocess.Popen, run_dir: Path, options: AgentOptions, reported: set[int],
           emit: Callable[[str, dict], None]) -> str:
    """Wait for the child; heartbeat, report evaluations, prune, pause outside the window. Returns the outcome."""
    last_beat = -1e18
    try:
        while proc.poll() is None:
            if options.clock() - last_beat >= options.heartbeat_s:
                _heartbeat(trial, options)
                last_beat = options.clock()
            if _report(sweep, trial, run_dir, reported, emit):
                _terminate(proc)
                return "pruned"
            if options.window is not None:
                from datetime import datetime

                if not options.window.contains(datetime.fromtimestamp(options.clock()).astimezone()):
                    emit("pause", {"number": trial.number})
                    _terminate(proc)
                    return "window closed"
            options.sleep(options.poll_s)
    except BaseException:
        _terminate(proc)
        raise
    if _report(sweep, trial, run_dir, reported, emit):
        return "pruned"
    if proc.returncode == 0:
        return "ok"
    return _last_error(run_dir / TRIAL_LOG) or f"lex-dpr train exited with {proc.returncode}"


def _report(sweep: Sweep, trial, run_dir: Path, reported: set[int], emit) -> bool:
    """Feed new evaluations of the sweep's metric to the pruner; True when it says prune."""
    import math

    if sweep.spec.early_terminate is None:
        return False
    values = [r[sweep.spec.metric] for r in read_metrics(run_dir / "bi_encoder")
              if isinstance(r.get(sweep.spec.metric), int | float)]
    for i, v in enumerate(values):
        if i in reported or not math.isfinite(v):
            continue
        reported.add(i)
        trial.report(v, i + 1)
        if trial.should_prune():
            emit("prune", {"number": trial.number, "step": i + 1, "value": v})
            return True
    return False


def _wait_for_window(options: AgentOptions, emit, trial=None) -> None:
    """Block until the time window opens (a countdown through ``emit``); keep a paused trial's heartbeat."""
    from datetime import datetime

    from lex_dpr.sweep.window import wait_for_window

    def sleep(seconds: float) -> None:
        if trial is not None:
            _heartbeat(trial, options)
        options.sleep(seconds)

    wait_for_window(options.window, lambda: datetime.fromtimestamp(options.clock()).astimezone(), sleep,
                    lambda s: emit("waiting", {"seconds": s, "window": options.window.describe()}))


def _heartbeat(trial, options: AgentOptions) -> None:
    trial.set_user_attr("heartbeat", {"host": socket.gethostname(), "pid": os.getpid(), "time": options.clock()})


def _terminate(proc: subprocess.Popen, grace: float = 60.0) -> None:
    """SIGTERM (training stops at a safe point and records it), then SIGKILL after ``grace`` seconds."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _last_error(log_path: Path) -> str | None:
    try:
        lines = [x.strip() for x in log_path.read_text(encoding="utf-8", errors="replace").splitlines() if x.strip()]
    except OSError:
        return None
    errors = [x for x in lines if x.startswith(("error:", "interrupted:"))]
    line = (errors or lines or [None])[-1]
    return line.removeprefix("error:").strip() if line else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | type(None) | list) else str(value)
