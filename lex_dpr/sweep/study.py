"""The Optuna study behind an offline sweep: opening it with its sampler and pruner, telling it results, stop marks.

A sweep's study is named after its sweep id and lives in the storage :mod:`lex_dpr.sweep.storage` resolves
(a journal file in ``sweeps/ID/`` or a database). :func:`open_sweep` is the one way in: it reads the spec as
``sweep create`` stored it and attaches the sampler the method asks for (:func:`make_sampler`) and the
hyperband pruner (:func:`lex_dpr.sweep.pruner.make_pruner`). A stop (:func:`request_stop`) is recorded twice,
as a ``STOP`` file for agents sharing the folder and as a study attribute for agents sharing only the database,
each with when (UTC, ISO 8601 with ``Z``) and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lex_dpr.errors import InputError
from lex_dpr.sweep.pruner import make_pruner
from lex_dpr.sweep.storage import SPEC_FILE, STOP_FILE, find_sweep, open_storage, storage_url, sweep_dir, utc_now

if TYPE_CHECKING:
    from lex_dpr.sweep.agent import AgentOptions
    from lex_dpr.sweep.spec import SweepSpec

# Past this many finished trials the GP sampler's fit outgrows the trials it schedules
# (bench/bench_sweep.py: 0.55 s per trial at 300, 8.5 s at 1,000); TPE takes over (0.02 s at 1,000).
GP_MAX_TRIALS = 300
SAMPLERS = ("gp", "tpe")


@dataclass
class Sweep:
    """An open sweep: its id, folder, spec and Optuna study."""

    sweep_id: str
    folder: Path
    spec: SweepSpec
    study: Any
    storage_url: str


def open_sweep(sweep_id: str | None, config: str | Path | None = None, options: AgentOptions | None = None,
               agents_hint: int = 1) -> Sweep:
    """Load a created sweep by id (or by the ``sweep_id`` written into its file) with its sampler and pruner.

    ``options`` gives the sweeps folder, the storage and the bayes sampler (default: ``AgentOptions()``).
    """
    import optuna

    from lex_dpr.sweep.parse import parse_sweep
    from lex_dpr.utils.config import read_yaml

    if options is None:
        from lex_dpr.sweep.agent import AgentOptions

        options = AgentOptions()
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


def tell(study, trial, value: float | None = None, state=None) -> None:
    """``study.tell``; the grid sampler calls ``study.stop()`` after the last grid point, which Optuna only
    allows inside ``optimize`` and reports as RuntimeError after the trial was stored: that one is harmless."""
    try:
        study.tell(trial, value, state=state)
    except RuntimeError as exc:
        if "Study.stop" not in str(exc):
            raise


def consumed_before(study, number: int) -> int:
    """Trials with a lower number that count toward ``run_cap`` (not surplus, not re-queued after a dead agent)."""
    trials = study.get_trials(deepcopy=False)
    requeued = {t.user_attrs.get("requeued_from") for t in trials} - {None}
    return sum(1 for t in trials if t.number < number and not t.user_attrs.get("surplus") and t.number not in requeued)


def stop_requested(sweep: Sweep) -> bool:
    return (sweep.folder / STOP_FILE).exists() or bool(sweep.study.user_attrs.get("stop"))


def request_stop(sweep: Sweep, why: str = "lex-dpr sweep stop") -> None:
    """Agents finish their current trial and exit (a file for shared folders, a study attribute for databases).

    Both record when (UTC, with ``Z``) and why, for the agent that starts on the stopped sweep
    (:func:`stopped_because`).
    """
    mark = {"at": utc_now(), "why": why}
    (sweep.folder / STOP_FILE).write_text(f"{mark['at']}\n{why}\n", encoding="utf-8")
    sweep.study.set_user_attr("stop", mark)


def stopped_because(sweep: Sweep) -> str | None:
    """``"at TIME (WHY)"`` when the sweep is stopped, else None (older marks carry less: then what is known).

    TIME is shown as it was written: marks of older versions carry a local time with its offset.
    """
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
