"""Where a trained model lives in a run folder: one rule for training, which writes it, and every loader.

``lex-dpr train --out-dir RUN`` writes the run into ``RUN/bi_encoder/`` (:data:`RUN_SUBDIR`) and the model to
keep into its ``final/`` (:data:`FINAL`). A command given a model path accepts ``RUN``, ``RUN/bi_encoder``, the
``final/`` folder itself, or any other model folder: :func:`resolve_model_dir` finds the folder holding the
weights, and :func:`run_label` names the run in a report.

Example:
    >>> import tempfile
    >>> run = Path(tempfile.mkdtemp()) / "static"
    >>> (run / RUN_SUBDIR / FINAL).mkdir(parents=True)
    >>> resolve_model_dir(run) == resolve_model_dir(run / RUN_SUBDIR) == run / RUN_SUBDIR / FINAL
    True
    >>> resolve_model_dir(run / RUN_SUBDIR / FINAL) == run / RUN_SUBDIR / FINAL
    True
    >>> run_label("runs/static/bi_encoder/final"), run_label("runs/static"), run_label("multilingual-e5-small")
    ('static', 'static', 'multilingual-e5-small')
"""

from __future__ import annotations

from pathlib import Path

RUN_SUBDIR = "bi_encoder"  # the run folder inside --out-dir: record, metrics, checkpoints, final/
FINAL = "final"  # the model a finished run keeps (its best checkpoint)


def resolve_model_dir(path: str | Path) -> Path:
    """The folder a model path's weights are in: ``path/bi_encoder/final``, ``path/final``, else ``path`` itself."""
    path = Path(path)
    for folder in (path / RUN_SUBDIR / FINAL, path / FINAL):
        if folder.is_dir():
            return folder
    return path


def run_label(model: str | Path) -> str:
    """A short name for a model in a report: the run folder's name for a run path, else the name as given."""
    parts = [part for part in Path(model).parts if part not in (RUN_SUBDIR, FINAL)]
    return parts[-1] if parts else str(model)
