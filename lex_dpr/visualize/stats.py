"""The numbers beside the pictures: how far apart a model puts positives and negatives.

Example:
    >>> auc([0.9, 0.8], [0.1, 0.85])
    0.75
    >>> summary = similarity_summary([0.9, 0.8], [0.1, 0.85], [0.0, 0.2])
    >>> summary["positive"]["mean"], summary["auc_vs_hard"], summary["separation_vs_random"]
    (0.85, 0.75, 0.75)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def auc(positive: Sequence[float], negative: Sequence[float]) -> float:
    """The chance that a random positive scores above a random negative (ties count half): ROC AUC.

    0.5 means the model cannot tell them apart, 1.0 that every positive outranks every negative.
    """
    pos = np.sort(np.asarray(positive, dtype=np.float64))
    neg = np.sort(np.asarray(negative, dtype=np.float64))
    if not len(pos) or not len(neg):
        return float("nan")
    below = np.searchsorted(neg, pos, side="left")  # negatives strictly below each positive
    ties = np.searchsorted(neg, pos, side="right") - below
    return round(float((below.sum() + 0.5 * ties.sum()) / (len(pos) * len(neg))), 6)


def describe(values: Sequence[float]) -> dict[str, float | int]:
    """Count, mean, standard deviation and quartiles, rounded to 6 places."""
    v = np.asarray(values, dtype=np.float64)
    if not len(v):
        return {"count": 0}
    q25, q50, q75 = np.percentile(v, [25, 50, 75])
    return {"count": int(len(v)), "mean": _r(v.mean()), "std": _r(v.std()), "min": _r(v.min()), "q25": _r(q25),
            "median": _r(q50), "q75": _r(q75), "max": _r(v.max())}


def similarity_summary(positive: Sequence[float], hard: Sequence[float], random: Sequence[float]) -> dict:
    """Positive vs hard-negative vs random-passage cosine similarities: descriptions, separations and AUCs.

    ``separation_vs_*`` is the positive mean minus that negative's mean; ``auc_vs_*`` is :func:`auc`.
    """
    out: dict = {"positive": describe(positive), "hard_negative": describe(hard), "random": describe(random)}
    for name, neg in (("hard", hard), ("random", random)):
        out[f"separation_vs_{name}"] = (_r(np.mean(positive) - np.mean(neg)) if len(positive) and len(neg)
                                        else float("nan"))
        out[f"auc_vs_{name}"] = auc(positive, neg)
    return out


def _r(x: float) -> float:
    return round(float(x), 6)
