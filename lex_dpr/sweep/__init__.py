"""Hyperparameter sweeps: W&B sweep files run offline on Optuna, or online on W&B.

The package's face; each name is imported from its home on first use, so ``import lex_dpr.sweep`` imports
neither Optuna nor the sweep-file parser:

* the file: :func:`load_sweep`, :func:`parse_sweep` (:mod:`.parse`) into :class:`SweepSpec`, :class:`ParamSpec`,
  :class:`HyperbandSpec` (:mod:`.spec`);
* the study: :func:`create_sweep` (:mod:`.create`), :func:`open_sweep`, :class:`Sweep` (:mod:`.study`),
  :func:`make_pruner` (:mod:`.pruner`);
* the agent: :func:`run_agent`, :class:`AgentOptions`, :class:`AgentResult` (:mod:`.agent`); one trial's process
  in :mod:`.trial`; the online (W&B) engine in :mod:`.online`; which engine runs a command in :mod:`.engine`;
* what happened: :func:`trial_rows`, :func:`best_trial`, :func:`export_best` (:mod:`.status`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lex_dpr.sweep.agent import AgentOptions, AgentResult, run_agent
    from lex_dpr.sweep.create import create_sweep
    from lex_dpr.sweep.parse import load_sweep, parse_sweep
    from lex_dpr.sweep.pruner import make_pruner
    from lex_dpr.sweep.spec import HyperbandSpec, ParamSpec, SweepSpec
    from lex_dpr.sweep.status import best_trial, export_best, trial_rows
    from lex_dpr.sweep.study import Sweep, open_sweep

__all__ = ["AgentOptions", "AgentResult", "HyperbandSpec", "ParamSpec", "Sweep", "SweepSpec", "best_trial",
           "create_sweep", "export_best", "load_sweep", "make_pruner", "open_sweep", "parse_sweep", "run_agent",
           "trial_rows"]

_HOMES = {"AgentOptions": "agent", "AgentResult": "agent", "run_agent": "agent", "create_sweep": "create",
          "load_sweep": "parse", "parse_sweep": "parse", "make_pruner": "pruner", "HyperbandSpec": "spec",
          "ParamSpec": "spec", "SweepSpec": "spec", "best_trial": "status", "export_best": "status",
          "trial_rows": "status", "Sweep": "study", "open_sweep": "study"}


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(importlib.import_module(f"lex_dpr.sweep.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
