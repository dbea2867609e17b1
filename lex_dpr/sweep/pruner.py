"""Early termination for offline sweeps: W&B's ``early_terminate: hyperband`` rule as an Optuna pruner.

W&B cuts runs at bands (:meth:`~lex_dpr.sweep.spec.HyperbandSpec.bands`), indices into each run's history of
the metric. A running trial with more than b evaluations is
judged at the last such band b: the threshold is the value ranked ``int(n / eta)`` (from 0, best first) among the
n values that every trial of the sweep, whatever its state, logged at index b, and the trial is stopped when the
best value it has logged so far is worse. This is ``sweeps.hyperband_stop_runs`` (sweeps 0.2.0), what W&B's sweep
controller runs; like it, ``strict`` changes nothing.
"""

from __future__ import annotations

import math
from bisect import bisect_left

import optuna
from optuna.trial import FrozenTrial, TrialState

class HyperbandStopping(optuna.pruners.BasePruner):
    """W&B's hyperband stopping over the study's trials; a trial's history is its reported values in step order.

    Example:
        >>> from lex_dpr.sweep.spec import HyperbandSpec
        >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
        >>> study = optuna.create_study(direction="maximize",
        ...                             pruner=HyperbandStopping(HyperbandSpec(min_iter=1, eta=2), "maximize"))
        >>> def run(history):
        ...     trial = study.ask()
        ...     for step, value in enumerate(history, 1):
        ...         trial.report(value, step)
        ...         if trial.should_prune():
        ...             study.tell(trial, state=TrialState.PRUNED)
        ...             return f"stopped at evaluation {step}"
        ...     study.tell(trial, max(history))
        ...     return "finished"
        >>> run([0.2, 0.5, 0.6]), run([0.1, 0.3, 0.4]), run([0.1, 0.2, 0.9])
        ('finished', 'finished', 'stopped at evaluation 2')
    """

    def __init__(self, early_terminate, goal: str) -> None:
        self.bands = early_terminate.bands()
        if not self.bands:
            raise ValueError(f"early_terminate {early_terminate} leaves no band: raise max_iter or lower eta")
        self.rate = 1.0 / early_terminate.eta
        self.sign = -1.0 if goal == "maximize" else 1.0

    def history(self, trial: FrozenTrial) -> list[float]:
        """The trial's finite reported values in step order, negated when the goal is to maximize (lower is better)."""
        return [self.sign * v for _, v in sorted(trial.intermediate_values.items()) if math.isfinite(v)]

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        if trial.state != TrialState.RUNNING:
            return False
        history = self.history(trial)
        below = bisect_left(self.bands, len(history))
        if below == 0:
            return False
        band = self.bands[below - 1]
        values = [history[band]]
        for other in study.get_trials(deepcopy=False):
            if other.number != trial.number and len(other.intermediate_values) > band:
                past = self.history(other)
                if len(past) > band:
                    values.append(past[band])
        threshold = sorted(values)[int(self.rate * len(values))]
        return min(history) > threshold


def make_pruner(spec):
    """``early_terminate: hyperband`` → :class:`HyperbandStopping` (W&B's rule) fed by each evaluation; else none."""
    if spec.early_terminate is None:
        return optuna.pruners.NopPruner()
    return HyperbandStopping(spec.early_terminate, spec.goal)
