"""``sweep create``: a sweep folder, its spec, and an Optuna study named after the sweep id."""

from __future__ import annotations

from pathlib import Path

from lex_dpr.errors import ConfigError
from lex_dpr.sweep.storage import SPEC_FILE, STOP_FILE, STORAGE_FILE, new_sweep_id, open_storage, storage_url, sweep_dir
from lex_dpr.utils.io import atomic_open


# What a sweep is: changing any of these under the same id would mix trials of two searches in one study.
IDENTITY_KEYS = ("method", "metric", "parameters", "fixed", "early_terminate", "initial_runs", "seed", "test_run")


def create_sweep(spec, root: str | Path = "sweeps", storage: str | None = None) -> str:
    """Create (or re-open) the sweep of ``spec``; write its id back into the sweep file; return the id.

    A file that already carries a ``sweep_id`` re-opens that sweep (its finished trials are kept), so
    running ``sweep create`` twice never starts a second study by accident. Re-opened, the file may change
    ``run_cap``, the time window and the names; a changed search (``IDENTITY_KEYS``) is refused.

    Raises:
        ConfigError: the file's search differs from the stored sweep's (each change named).
    """
    import optuna
    import yaml

    from lex_dpr.sweep.parse import set_sweep_id

    name = spec.raw.get("name")
    sweep_id = spec.sweep_id or new_sweep_id(name if isinstance(name, str) else
                                             (spec.source.stem if spec.source else None))
    folder = sweep_dir(sweep_id, root)
    url = storage_url(folder, storage or spec.storage)
    if spec.sweep_id:
        _refuse_changes(spec, _stored_spec(folder, url, sweep_id))
    folder.mkdir(parents=True, exist_ok=True)
    if "://" in url:
        with atomic_open(folder / STORAGE_FILE) as fh:
            fh.write(url.encode() + b"\n")
    raw = dict(spec.raw, sweep_id=sweep_id)
    with atomic_open(folder / SPEC_FILE) as fh:
        fh.write(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True).encode())
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=sweep_id, storage=open_storage(url), direction=spec.goal,
                                load_if_exists=True)
    study.set_user_attr("spec", raw)
    study.set_user_attr("stop", False)
    (folder / STOP_FILE).unlink(missing_ok=True)
    if spec.source is not None and spec.sweep_id != sweep_id:
        set_sweep_id(spec.source, sweep_id)
    return sweep_id


def _stored_spec(folder: Path, url: str, sweep_id: str) -> dict | None:
    """The sweep file as ``sweep create`` stored it, or None for a sweep not created yet."""
    from lex_dpr.utils.config import read_yaml

    if (folder / SPEC_FILE).is_file():
        return read_yaml(folder / SPEC_FILE)
    if "://" not in url and not Path(url).is_file():
        return None
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return optuna.load_study(study_name=sweep_id, storage=open_storage(url)).user_attrs.get("spec")
    except KeyError:
        return None


def _refuse_changes(spec, stored: dict | None) -> None:
    if not isinstance(stored, dict):
        return
    changes: list[str] = []
    for key in IDENTITY_KEYS:
        _diff(stored.get(key), spec.raw.get(key), key, changes)
    if changes:
        shown = "; ".join(changes[:6]) + (f"; and {len(changes) - 6} more" if len(changes) > 6 else "")
        where = spec.source or "the sweep file"
        raise ConfigError(f"{where}: the search changed since sweep {spec.sweep_id} was created ({shown}); its "
                          "trials were drawn from the old one. Undo the change, or delete the sweep_id line to "
                          "create a new sweep")


def _diff(old, new, path: str, out: list[str]) -> None:
    from lex_dpr.sweep.space import format_value

    if isinstance(old, dict) and isinstance(new, dict):
        for key in dict.fromkeys([*old, *new]):
            _diff(old.get(key, _MISSING), new.get(key, _MISSING), f"{path}.{key}", out)
    elif old != new or type(old) is not type(new):
        def show(v):
            return "(none)" if v is _MISSING or v is None else format_value(v)
        out.append(f"{path}: {show(old)} → {show(new)}")


_MISSING = object()
