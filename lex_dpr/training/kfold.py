"""Group k-fold over the training pairs: one run per fold, out-of-fold metrics, and a fold ensemble.

Pairs are grouped by precedent (and by normalised query text, as in make-pairs), so no precedent's
queries are in two folds. ``{out_dir}/fold-{i}/bi_encoder`` holds each run, ``{out_dir}/ensemble``
an encoder averaging the fold models, ``{out_dir}/kfold_summary.json`` the table.
"""

from __future__ import annotations

import copy
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lex_dpr.training.config import TrainConfig
from lex_dpr.training.data import read_extra_pairs
from lex_dpr.errors import ConfigError
from lex_dpr.data.corpus import read_corpus, read_pairs
from lex_dpr.utils.io import write_json


@dataclass
class KFoldResult:
    folds: list[dict[str, float]]  # per-fold valid metrics
    mean: dict[str, float]
    std: dict[str, float]
    out_of_fold: dict[str, float]  # every training query scored by the model that did not see it
    ensemble_dir: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def group_folds(pairs: list[dict], k: int, seed: int) -> list[list[int]]:
    """Indices of each fold; whole groups (precedent / query text) go to one fold, sizes balanced.

    Example:
        >>> pairs = [{"query_text": f"q{i}", "meta": {"prec_id": str(i // 2)}} for i in range(10)]
        >>> folds = group_folds(pairs, 2, seed=0)
        >>> sorted(len(f) for f in folds), sorted(i for f in folds for i in f) == list(range(10))
        ([4, 6], True)
    """
    from lex_dpr.mining.split import split_groups

    if k < 2:
        raise ConfigError(f"--folds {k}: need at least 2 folds")
    groups = list(split_groups(pairs).values())
    if len(groups) < k:
        raise ConfigError(f"--folds {k}: only {len(groups)} independent precedent groups in the training pairs")
    random.Random(seed).shuffle(groups)
    groups.sort(key=len, reverse=True)  # largest first into the emptiest fold: balanced sizes
    folds: list[list[int]] = [[] for _ in range(k)]
    for members in groups:
        min(folds, key=len).extend(members)
    return [sorted(f) for f in folds]


def train_kfold(cfg: TrainConfig, k: int, resume: bool = False, show_progress: bool = True,
                allow_changes: bool = False) -> KFoldResult:
    from lex_dpr.evaluation.metrics import mean_scores
    from lex_dpr.models.ensemble import EnsembleEncoder
    from lex_dpr.models.loading import load_encoder
    from lex_dpr.retrieval.dense import DenseRetriever
    from lex_dpr.mining.pairset import check_pair_set
    from lex_dpr.models.run_folder import FINAL, RUN_SUBDIR
    from lex_dpr.runs.record import checkpoints
    from lex_dpr.training.train import train_model

    check_pair_set(cfg.data.pairs)
    corpus = read_corpus(cfg.data.passages)
    pairs = read_pairs(cfg.data.pairs, corpus)
    extra = read_extra_pairs(cfg.data.extra_pairs, corpus)  # every fold trains on them; no fold validates on them
    out = Path(cfg.out_dir)
    fold_metrics, oof_rows, finals, encoders = [], [], [], []
    for i, held_out in enumerate(group_folds(pairs, k, cfg.trainer.seed)):
        held = set(held_out)
        train_pairs = [p for j, p in enumerate(pairs) if j not in held] + extra
        valid_pairs = [pairs[j] for j in held_out]
        fold_cfg = copy.deepcopy(cfg)
        fold_cfg.out_dir = str(out / f"fold-{i}")
        run_dir = Path(fold_cfg.out_dir) / RUN_SUBDIR
        if resume and (run_dir / FINAL).is_dir():
            final = run_dir / FINAL
        else:
            fold_resume = resume and bool(checkpoints(run_dir))
            final = train_model(fold_cfg, corpus, train_pairs, valid_pairs, run_dir, fold_resume,
                                show_progress, allow_changes).final_dir
        finals.append(final)
        encoders.append(load_encoder(final))
        rows = _score(DenseRetriever(f"fold-{i}", encoders[-1], corpus), valid_pairs, cfg.eval.k_values)
        oof_rows += rows
        fold_metrics.append(mean_scores(rows))
    ensemble_dir = out / "ensemble"
    EnsembleEncoder(encoders, [str(f) for f in finals]).save(ensemble_dir)
    keys = list(fold_metrics[0])
    result = KFoldResult(fold_metrics, {m: float(np.mean([f[m] for f in fold_metrics])) for m in keys},
                         {m: float(np.std([f[m] for f in fold_metrics])) for m in keys}, mean_scores(oof_rows),
                         str(ensemble_dir))
    write_json(out / "kfold_summary.json", result.to_dict())
    return result


def _score(system, pairs: list[dict], k_values: list[int]) -> list[dict[str, float]]:
    """Per-query metrics with lex-dpr's own definitions (those of `lex-dpr eval`), for out-of-fold means."""
    from lex_dpr.evaluation.metrics import per_query

    rankings = system.rank([p["query_text"] for p in pairs], max(100, *k_values))
    return [per_query([pid for pid, _ in r], set(p["positive_passages"]), k_values)
            for r, p in zip(rankings, pairs, strict=True)]

