"""``sweep create``: a sweep folder, its spec, and an Optuna study named after the sweep id."""

from __future__ import annotations

from pathlib import Path

from lex_dpr.sweep.storage import SPEC_FILE, STOP_FILE, STORAGE_FILE, new_sweep_id, open_storage, storage_url, sweep_dir
from lex_dpr.utils.io import atomic_open


def create_sweep(spec, root: str | Path = "sweeps", storage: str | None = None) -> str:
    """Create (or re-open) the sweep of ``spec``; write its id back into the sweep file; return the id.

    A file that already carries a ``sweep_id`` re-opens that sweep (its finished trials are kept), so
    running ``sweep create`` twice never starts a second study by accident.
    """
    import optuna
    import yaml

    from lex_dpr.sweep.config import set_sweep_id

    sweep_id = spec.sweep_id or new_sweep_id(spec.raw.get("name") or (spec.source.stem if spec.source else None))
    folder = sweep_dir(sweep_id, root)
    folder.mkdir(parents=True, exist_ok=True)
    url = storage_url(folder, storage or spec.storage)
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
