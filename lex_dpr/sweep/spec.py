"""A checked sweep file as typed data: :class:`SweepSpec`, its :class:`ParamSpec` parameters and :class:`HyperbandSpec`.

These are plain dataclasses with no behaviour beyond W&B's hyperband bands; :mod:`lex_dpr.sweep.parse` builds
them from a file (and is the only place that checks one), every other sweep module reads them. They import
nothing of lex-dpr at run time, so the parser, the search space and the agent can all name them without
importing each other.

Example:
    >>> p = ParamSpec("lora.r", "categorical", values=[8, 16])
    >>> spec = SweepSpec(method="grid", metric="eval/ndcg_at_10", goal="maximize", parameters={"lora.r": p})
    >>> spec.direction(), spec.parameters["lora.r"].values
    ('maximize', [8, 16])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lex_dpr.sweep.legacy import LegacyMapping

METHODS = ("grid", "random", "bayes")
GOALS = ("maximize", "minimize")
DISTRIBUTIONS = ("constant", "categorical", "int_uniform", "uniform", "q_uniform", "log_uniform", "log_uniform_values",
                 "q_log_uniform_values", "normal", "q_normal", "log_normal", "q_log_normal")
MIN_MAX = ("int_uniform", "uniform", "q_uniform", "log_uniform", "log_uniform_values", "q_log_uniform_values")
NORMAL_FAMILY = ("normal", "q_normal", "log_normal", "q_log_normal")
GRID_DISTRIBUTIONS = ("constant", "categorical", "int_uniform", "q_uniform")
MAX_BANDS = 100  # W&B's min_iter form: `for i in range(100)` in sweeps' hyperband_stopping.py


@dataclass
class ParamSpec:
    """One swept training key, as W&B writes it: a constant, a categorical, or a distribution."""

    key: str  # dotted training key (after legacy mapping)
    distribution: str  # one of DISTRIBUTIONS
    value: Any = None  # constant
    values: list[Any] | None = None  # categorical
    min: float | None = None
    max: float | None = None
    mu: float | None = None
    sigma: float | None = None
    q: float | None = None


@dataclass
class HyperbandSpec:
    """``early_terminate: {type: hyperband, ...}``; an iteration is one evaluation of the metric (a metrics.jsonl row).

    W&B's bands, as ``sweeps.hyperband_stop_runs`` computes them: with ``max_iter`` and ``s``,
    ``max_iter / eta^i`` for i = 1..s (those >= 1); with ``min_iter``, ``min_iter * eta^i`` for i = 0..99;
    each truncated to a whole number. A band b is an index into a run's history: a run is judged at b once
    it has logged more than b evaluations, so never at its first (:mod:`lex_dpr.sweep.pruner`).

    Example:
        >>> HyperbandSpec(min_iter=None, max_iter=27, eta=3, s=2).bands(), HyperbandSpec(min_iter=2).bands(up_to=20)
        ([3, 9], [2, 6, 18])
        >>> HyperbandSpec(min_iter=1, eta=1.01).bands()[-1]  # 100 bands at most, as W&B
        2
    """

    min_iter: int | None = None
    max_iter: int | None = None
    eta: int | float = 3
    s: int | None = None

    def bands(self, up_to: int | None = None) -> list[int]:
        out: list[int] = []
        if self.max_iter is not None:
            band = float(self.max_iter)
            for _ in range(self.s or 0):
                band /= self.eta
                if band < 1:
                    break
                out.append(int(band))
        elif self.min_iter is not None:
            band = self.min_iter  # int times an int eta stays exact, as in sweeps
            while len(out) < MAX_BANDS and band < math.inf:
                out.append(int(band))
                band *= self.eta
        return sorted(b for b in out if up_to is None or b <= up_to)


@dataclass
class SweepSpec:
    """A checked sweep file. ``raw`` is the YAML as read: parsing it again gives the same spec."""

    method: str  # grid | random | bayes
    metric: str  # "eval/ndcg_at_10"
    goal: str  # "maximize" | "minimize"
    target: float | None = None
    parameters: dict[str, ParamSpec] = field(default_factory=dict)  # by dotted key, file order
    fixed: list[str] = field(default_factory=list)  # "key=value" overrides for every trial (legacy-mapped)
    early_terminate: HyperbandSpec | None = None
    run_cap: int | None = None
    initial_runs: int | None = None
    time_window: str | None = None
    timezone: str | None = None
    sweep_id: str | None = None
    wandb_sweep: str | None = None  # ENTITY/PROJECT/ID of the online sweep, written by `sweep create --online`
    storage: str | None = None
    project: str | None = None
    entity: str | None = None
    notes: list[str] = field(default_factory=list)  # ignored keys, defaults chosen, legacy decisions
    legacy: list[LegacyMapping] = field(default_factory=list)  # predecessor keys met, for the one-time table
    source: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    def direction(self) -> str:
        return self.goal
