"""The validation evaluator a training runs, and which metrics it therefore logs.

:func:`ir_evaluator` builds sentence-transformers' ``InformationRetrievalEvaluator`` over the validation pairs,
named :data:`~lex_dpr.evaluation.metric_name.EVALUATOR` so that its keys are the trainer keys
:class:`~lex_dpr.evaluation.metric_name.MetricName` spells. It scores mrr at :data:`MRR_AT_K`, map at
:data:`MAP_AT_K`, and ndcg, recall, precision and hit at ``eval.k_values`` ∪ :data:`ALWAYS_LOGGED_K`:
:func:`not_logged` says when a metric is outside that set (what a sweep and ``eval.metric`` are checked
against), and :func:`best_metrics` reads the logged values of the model ``final/`` holds.

Example:
    >>> from lex_dpr.evaluation.metric_name import MetricName
    >>> logged_cutoffs([20, 100])
    [1, 3, 5, 10, 20, 100]
    >>> not_logged(MetricName.parse("eval/mrr_at_5"), [1, 10])
    'eval/mrr_at_5 is not logged by training (it logs eval/mrr_at_10 and eval/map_at_100)'
    >>> not_logged(MetricName.parse("eval/recall_at_50"), [1, 10]), not_logged(MetricName.parse("eval/loss"), [])
    ('eval/recall_at_50 is not logged by training: add 50 to eval.k_values in fixed (now [1, 3, 5, 10])', None)
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lex_dpr.evaluation.metric_name import EVALUATOR, SCORE_FUNCTION, MetricName

if TYPE_CHECKING:
    from lex_dpr.data.corpus import Corpus
    from lex_dpr.training.config import TrainConfig

ALWAYS_LOGGED_K = (1, 3, 5, 10)  # ndcg/recall/precision/hit are logged at eval.k_values ∪ these
MRR_AT_K = 10
MAP_AT_K = 100


def logged_cutoffs(k_values: Iterable[int]) -> list[int]:
    """The cut-offs ndcg, recall, precision and hit are logged at: ``k_values`` ∪ :data:`ALWAYS_LOGGED_K`."""
    return sorted({*k_values, *ALWAYS_LOGGED_K})


def not_logged(metric: MetricName, k_values: Iterable[int]) -> str | None:
    """Why training never logs ``metric`` (with ``eval.k_values`` = ``k_values``), or None when it does (or may)."""
    if metric.is_loss:
        return None
    if metric.name == "mrr" and metric.k != MRR_AT_K or metric.name == "map" and metric.k != MAP_AT_K:
        return (f"{metric.key} is not logged by training (it logs eval/mrr_at_{MRR_AT_K} and "
                f"eval/map_at_{MAP_AT_K})")
    ks = logged_cutoffs(k_values)
    if metric.name not in ("mrr", "map") and metric.k not in ks:
        return f"{metric.key} is not logged by training: add {metric.k} to eval.k_values in fixed (now {ks})"
    return None


def ir_evaluator(valid_pairs: list[dict], corpus: Corpus, cfg: TrainConfig):
    """sentence-transformers' InformationRetrievalEvaluator over the full corpus (or a sub-corpus).

    ``data.val_negatives`` > 0 ranks each query's positives among the first N mined negatives of every
    validation pair instead of the whole corpus.
    """
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    queries = {p["query_id"]: p["query_text"] for p in valid_pairs}
    relevant = {p["query_id"]: set(p["positive_passages"]) for p in valid_pairs}
    if cfg.data.val_negatives > 0:
        keep = {pid for p in valid_pairs for pid in p["positive_passages"]}
        keep |= {n for p in valid_pairs for n in (p.get("hard_negatives") or [])[: cfg.data.val_negatives]}
        docs = {pid: corpus.texts[corpus.index[pid]] for pid in sorted(keep) if pid in corpus.index}
    else:
        docs = dict(zip(corpus.ids, corpus.texts, strict=True))
    k = logged_cutoffs(cfg.eval.k_values)
    return InformationRetrievalEvaluator(
        queries, docs, relevant, name=EVALUATOR, mrr_at_k=[MRR_AT_K], ndcg_at_k=sorted({10, *k}), accuracy_at_k=k,
        precision_recall_at_k=k, map_at_k=[MAP_AT_K], batch_size=cfg.eval.batch_size, write_csv=False,
        query_prompt_name="query", corpus_prompt_name="document", main_score_function=SCORE_FUNCTION,
    )


def best_metrics(state: Any) -> dict[str, float]:
    """The IR metrics logged for the model in final/ (the best checkpoint), by record key, without evaluating again.

    ``state`` is the trainer's ``TrainerState``: its log history and best checkpoint.
    """
    from lex_dpr.runs.record import checkpoint_step
    from lex_dpr.training.callbacks import metric_key

    prefix = f"eval_{EVALUATOR}_"
    evals = [e for e in state.log_history if any(k.startswith(prefix) for k in e)]
    if not evals:
        return {}
    best = state.best_model_checkpoint
    step = checkpoint_step(Path(best)) if best else evals[-1]["step"]
    entry = next((e for e in evals if e["step"] == step), evals[-1])
    return {metric_key(k): v for k, v in entry.items() if k.startswith(prefix)}
