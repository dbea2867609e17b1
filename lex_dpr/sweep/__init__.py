"""Hyperparameter sweeps: W&B sweep files run offline on Optuna, or online on W&B."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lex_dpr.sweep.config import load_sweep
    from lex_dpr.sweep.pruner import make_pruner

__all__ = ["load_sweep", "make_pruner"]

_HOMES = {"load_sweep": "lex_dpr.sweep.config", "make_pruner": "lex_dpr.sweep.pruner"}


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
