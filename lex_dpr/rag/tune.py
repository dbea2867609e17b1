"""``rag tune``: choose the retrieval mode (and weight) on validation pairs, and store it in the index.

Every candidate is scored on the same two ranked lists per query (dense and BM25, read 100 deep):
``weighted`` for w = 0, 0.1, …, 1 (w on dense), ``rrf``, and ``independent`` with 1 … k−1 contexts from dense.
The objective is Recall@k, the share of the answering passages among the k contexts an LLM gets, with
nDCG@10 breaking ties. With training pairs, queries with a never-seen positive (as ``eval``'s never-seen
subset counts them: not fallback pairs) and all other queries count as two equal halves: a memorising model
looks best on the seen half, and choosing on it alone would give the long tail away. With training pairs,
``weighted`` is also scored with an uncited bonus (:data:`BONUSES`, :func:`lex_dpr.retrieval.fusion.boost`)
for statements: a fixed amount added to the fused score of every passage no training pair cited; the
passages cited are stored in the index (``cited.json``) when the best candidate has one.

Queries asked as questions (plain-language questions, :func:`lex_dpr.utils.text.is_question`) get their own
weight, ``retrieval.question_weight``: :func:`tune_question_weight` picks it on labelled questions (their dev
split; a test split is never read), by Recall@k then nDCG@10.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lex_dpr.errors import InputError
from lex_dpr.utils.text import is_question
from lex_dpr.evaluation.metrics import ndcg_at_k, recall_at_k
from lex_dpr.rag.config import CITED_FILE, SETTINGS_FILE, Method
from lex_dpr.retrieval.fusion import boost, fuse, independent, rrf

MIN_RERANK_QUESTIONS = 30  # fewer labelled questions train no reranker (5 folds of 6 questions)
WEIGHTS = tuple(float(w) for w in np.round(np.arange(0.0, 1.01, 0.1), 2))
# uncited bonuses scored with every weight (fused scores are min-max normalised: 1 is the top of a list)
BONUSES = (0.0, 0.02, 0.05, 0.08, 0.1, 0.12, 0.15, 0.2, 0.3)


@dataclass
class Candidate:
    method: str
    weight: float | None = None
    k_dense: int | None = None
    bonus: float = 0.0  # the uncited bonus, weighted only
    recall: float = 0.0  # Recall@k, halves-weighted
    ndcg: float = 0.0  # nDCG@10, halves-weighted
    recall_seen: float | None = None
    recall_unseen: float | None = None

    @property
    def label(self) -> str:
        if self.method == Method.WEIGHTED:
            return f"weighted w={self.weight:.1f}" + (f", uncited +{self.bonus:.2f}" if self.bonus else "")
        if self.method == Method.INDEPENDENT:
            return f"independent {self.k_dense}+rest"
        return self.method

    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method}
        if self.weight is not None:
            out["weight"] = self.weight
        if self.k_dense is not None:
            out["k_dense"] = self.k_dense
        if self.bonus:
            out["uncited_bonus"] = self.bonus
        return out


@dataclass
class TuneResult:
    k: int
    queries: int
    seen_queries: int
    unseen_queries: int
    candidates: list[Candidate] = field(default_factory=list)
    best: Candidate | None = None
    questions: list[Candidate] = field(default_factory=list)  # question_weight candidates, when tuned
    question_best: Candidate | None = None
    cited: set[str] = field(default_factory=set)  # the passages training pairs cited

    def to_dict(self) -> dict[str, Any]:
        return {"k": self.k, "queries": self.queries, "seen_queries": self.seen_queries,
                "unseen_queries": self.unseen_queries, "best": self.best.__dict__ if self.best else None,
                "candidates": [c.__dict__ for c in self.candidates],
                "question_best": self.question_best.__dict__ if self.question_best else None,
                "questions": [c.__dict__ for c in self.questions]}


def tune(index, pairs: Sequence[dict], train_pairs: Sequence[dict] = (), k: int = 6, depth: int = 100,
         show_progress: bool = False, bonuses: Sequence[float] = BONUSES) -> TuneResult:
    """Score every candidate on ``pairs``; the best by halves-weighted Recall@k, then nDCG@10. ``bonuses``:
    the uncited bonuses scored with each weight (``(0.0,)``: none)."""
    if index.dense is None or index.bm25 is None:
        raise InputError(f"{index.folder}: rag tune chooses how to fuse dense and BM25; this index has only "
                         f"{'BM25' if index.dense is None else 'dense'} (build it with both)")
    queries = [p["query_text"] for p in pairs]
    relevant = [set(p["positive_passages"]) for p in pairs]
    seen = {pid for p in train_pairs for pid in p["positive_passages"]}
    # never-seen as `eval` reports it: a positive training never saw, on a query that is not a fallback pair
    # (a precedent's own summary passage, which any lexical match finds)
    unseen_mask = [bool(seen) and not rel <= seen and p.get("meta", {}).get("type") != "fallback"
                   for p, rel in zip(pairs, relevant, strict=True)]
    dense = index.dense.rank(queries, depth)
    bm25 = index.bm25.rank(queries, depth)
    result = TuneResult(k, len(pairs), sum(not u for u in unseen_mask), sum(unseen_mask))
    result.cited = seen
    # the bonus applies to statements only, as rag ask gives it (a question gets question_weight instead)
    statement = [not is_question(q) for q in queries]
    bonuses = sorted({0.0, *bonuses}) if seen else [0.0]  # no training pairs: nothing is known to be cited
    cands = [Candidate(Method.WEIGHTED.value, weight=w, bonus=x) for x in bonuses for w in WEIGHTS]
    cands.append(Candidate(Method.RRF.value))
    cands += [Candidate(Method.INDEPENDENT.value, k_dense=n) for n in range(1, k)]
    from lex_dpr.utils.progress import track

    fused: dict[float, list] = {}  # one weight's fused lists, shared by its bonuses (scored one weight after another)
    order = sorted(cands, key=lambda c: (c.method != Method.WEIGHTED, c.weight or 0.0))
    for c in track(order, "scoring retrieval modes", total=len(cands), enabled=show_progress):
        recalls, ndcgs = [], []
        if c.method == Method.WEIGHTED and c.weight not in fused:
            fused = {c.weight: [fuse(a, b, c.weight) for a, b in zip(dense, bm25, strict=True)]}
        for i, (a, b, rel) in enumerate(zip(dense, bm25, relevant, strict=True)):
            if c.method == Method.WEIGHTED:
                ranked = fused[c.weight][i]
                if c.bonus and statement[i]:
                    ranked = boost(ranked, seen, c.bonus)
            elif c.method == Method.RRF:
                ranked = rrf([a, b])
            else:
                ranked = independent(a, b, c.k_dense, k - c.k_dense)
            ids = [pid for pid, _ in ranked]
            recalls.append(recall_at_k(ids, rel, k))
            ndcgs.append(ndcg_at_k(ids, rel, 10))
        c.recall, c.recall_seen, c.recall_unseen = _halves(recalls, unseen_mask)
        c.ndcg = _halves(ndcgs, unseen_mask)[0]
    result.candidates = cands  # in order of preference on a tie: no bonus first, lower weights first
    result.best = max(result.candidates, key=lambda c: (round(c.recall, 10), round(c.ndcg, 10)))
    return result


def read_questions(path: str | Path, corpus) -> list[tuple[str, set[str]]]:
    """Labelled questions (``question``, ``positive_passages``; ``data/questions/questions.jsonl``) to tune on:
    asked as questions, answered inside the index, not in a ``test`` split.

    Raises:
        InputError: the file is unreadable, or no row is usable (each reason counted).
    """
    from lex_dpr.utils.io import BadLine, iter_jsonl
    from lex_dpr.utils.text import is_question

    out, skipped = [], {"test split": 0, "not asked as a question": 0, "answer not in the index": 0, "malformed": 0}
    bad: list[BadLine] = []
    for row in iter_jsonl(path, bad):
        if not isinstance(row, dict) or not isinstance(row.get("question"), str) or \
                not isinstance(row.get("positive_passages"), list):
            skipped["malformed"] += 1
        elif row.get("split") == "test":
            skipped["test split"] += 1
        elif not is_question(row["question"]):
            skipped["not asked as a question"] += 1
        elif not all(pid in corpus.index for pid in row["positive_passages"]):
            skipped["answer not in the index"] += 1
        else:
            out.append((row["question"], set(row["positive_passages"])))
    skipped["malformed"] += len(bad)
    if not out:
        why = ", ".join(f"{n} {k}" for k, n in skipped.items() if n)
        raise InputError(f"{path}: no question to tune on ({why or 'empty file'}); give labelled questions with "
                         "question and positive_passages, e.g. data/questions/questions.jsonl")
    return out


def tune_question_weight(index, questions: Sequence[tuple[str, set[str]]], result: TuneResult,
                         depth: int = 100, cfg=None) -> Candidate:
    """Score ``weighted`` at every weight on the questions, each half seen as questions see it
    (:func:`~lex_dpr.rag.answer.question_views`); the best goes to ``result.question_best``."""
    from lex_dpr.rag.answer import question_views
    from lex_dpr.rag.config import RagConfig

    texts = [q for q, _ in questions]
    dense_view, bm25_view = question_views(index, cfg or RagConfig())
    dense, bm25 = dense_view.rank(texts, depth), bm25_view.rank(texts, depth)
    for w in WEIGHTS:
        c = Candidate(Method.WEIGHTED.value, weight=w)
        ranked = [[pid for pid, _ in fuse(a, b, w)] for a, b in zip(dense, bm25, strict=True)]
        c.recall = float(np.mean([recall_at_k(r, rel, result.k) for r, (_, rel) in zip(ranked, questions, strict=True)]))
        c.ndcg = float(np.mean([ndcg_at_k(r, rel, 10) for r, (_, rel) in zip(ranked, questions, strict=True)]))
        result.questions.append(c)
    result.question_best = max(result.questions, key=lambda c: (round(c.recall, 10), round(c.ndcg, 10)))
    return result.question_best


def _halves(values: list[float], unseen: list[bool]) -> tuple[float, float | None, float | None]:
    """(the mean of the seen and unseen halves' means, the seen mean, the unseen mean); one half: its mean."""
    s = [v for v, u in zip(values, unseen, strict=True) if not u]
    n = [v for v, u in zip(values, unseen, strict=True) if u]
    ms = float(np.mean(s)) if s else None
    mn = float(np.mean(n)) if n else None
    both = [m for m in (ms, mn) if m is not None]
    return (float(np.mean(both)) if both else 0.0), ms, mn


def write_settings(index_dir: str | Path, result: TuneResult, pairs_path: str | Path, fingerprint: str) -> Path:
    """Store the chosen settings in the index (``retrieval.json``): ``rag ask`` and ``rag batch`` start from them."""
    from lex_dpr.utils.io import write_json

    path = Path(index_dir) / SETTINGS_FILE
    settings = result.best.settings()
    cited = Path(index_dir) / CITED_FILE
    if result.best.bonus:  # first: settings that name a bonus never stand without the passages it skips
        write_json(cited, {"about": "the passages the training pairs cited; retrieval.uncited_bonus skips them",
                           "passages": sorted(result.cited)})
    if result.question_best is not None and settings["method"] == Method.WEIGHTED:
        settings["question_weight"] = result.question_best.weight
    write_json(path, {"retrieval": settings, "k": result.k,
                      "tuned_on": {"pairs": str(pairs_path), "fingerprint": fingerprint, "queries": result.queries},
                      "scores": {"recall_at_k": result.best.recall, "ndcg_at_10": result.best.ndcg}})
    if not result.best.bonus:
        cited.unlink(missing_ok=True)
    return path


@dataclass
class RerankResult:
    """The question reranker's 5-fold cross-validation on the dev questions, and the reranker trained on all."""

    questions: int
    k: int
    recall_fused: float  # Recall@k of the fused lists, the same folds
    recall_reranked: float
    ndcg_fused: float
    ndcg_reranked: float
    reranker: Any = None

    @property
    def helps(self) -> bool:
        return (round(self.recall_reranked, 10), round(self.ndcg_reranked, 10)) > \
            (round(self.recall_fused, 10), round(self.ndcg_fused, 10))

    def to_dict(self) -> dict[str, Any]:
        return {"questions": self.questions, "k": self.k, "recall_fused": self.recall_fused,
                "recall_reranked": self.recall_reranked, "ndcg_fused": self.ndcg_fused,
                "ndcg_reranked": self.ndcg_reranked, "written": self.helps}


def tune_reranker(index, questions: Sequence[tuple[str, set[str]]], cfg, train_pairs: Sequence[dict] = (),
                  k: int = 6, folds: int = 5, show_progress: bool = False) -> RerankResult:
    """Train the question reranker (:mod:`lex_dpr.retrieval.rerank`) on labelled questions, and say by 5-fold
    cross-validation over them whether it beats the fused lists it reorders.

    The candidates are what ``rag ask`` fuses for each question with ``cfg`` (its weights, lexicon and types);
    the training pairs give each passage's citation count.
    """
    from collections import Counter

    from lex_dpr.rag.answer import build_retriever
    from lex_dpr.retrieval.questions import load_lexicon
    from lex_dpr.retrieval.rerank import CANDIDATES, Candidates, PassageInfo, Reranker, rerank_order, train
    from lex_dpr.utils.progress import track

    if cfg.retrieval.method != Method.WEIGHTED:
        raise InputError("the question reranker reorders weighted fusion; tune picked "
                         f"{cfg.retrieval.method}: set retrieval.method=weighted or leave --questions out")
    retriever = build_retriever(index, cfg, rerank=False)
    texts = [q for q, _ in questions]
    relevant = [rel for _, rel in questions]
    depth = max(cfg.retrieval.depth, CANDIDATES)
    dense, bm25 = retriever.first.rank(texts, depth), retriever.second.rank(texts, depth)
    cands = [Candidates(q, a, b, retriever.combine(a, b, CANDIDATES, retriever.weight_for(q)))
             for q, a, b in zip(texts, dense, bm25, strict=True)]
    lexicon = load_lexicon(cfg.retrieval.lexicon)
    terms = [lexicon.terms(q) if lexicon is not None else [] for q in texts]
    popularity = Counter(pid for p in train_pairs for pid in p.get("positive_passages", []))
    info = PassageInfo(index.corpus, index.bm25.index if index.bm25 is not None else None,
                       {pid: n for pid, n in sorted(popularity.items())})
    info.warm(index.corpus.ids)  # every title and heading: stored with the reranker, never tokenised at ask time
    scores: dict[str, list[float]] = {"rf": [], "rr": [], "nf": [], "nr": []}
    for fold in track(range(folds), "cross-validating the question reranker", total=folds, enabled=show_progress):
        held = [i for i in range(len(cands)) if i % folds == fold]
        rest = [i for i in range(len(cands)) if i % folds != fold]
        booster = train([cands[i] for i in rest], [relevant[i] for i in rest], info, [terms[i] for i in rest])
        model = Reranker.from_booster(booster, info)
        for i in held:
            fused = [pid for pid, _ in cands[i].fused]
            reranked = rerank_order(model, cands[i], terms[i])
            scores["rf"].append(recall_at_k(fused, relevant[i], k))
            scores["rr"].append(recall_at_k(reranked, relevant[i], k))
            scores["nf"].append(ndcg_at_k(fused, relevant[i], 10))
            scores["nr"].append(ndcg_at_k(reranked, relevant[i], 10))
    booster = train(cands, relevant, info, terms)
    mean = {key: float(np.mean(v)) for key, v in scores.items()}
    result = RerankResult(len(cands), k, mean["rf"], mean["rr"], mean["nf"], mean["nr"])
    result.reranker = Reranker.from_booster(booster, info, {"k": k, "questions": len(cands), "cv": result.to_dict()})
    return result


def write_reranker(index_dir: str | Path, result: RerankResult) -> str:
    """Store the reranker in the index when cross-validation says it helps, else remove an older one; the line
    to print."""
    from lex_dpr.retrieval.rerank import RERANK_FILE

    path = Path(index_dir) / RERANK_FILE
    if result.helps:
        result.reranker.save(path)
        return (f"wrote {path}: questions are reranked (cross-validated recall@{result.k} "
                f"{result.recall_fused:.4f} → {result.recall_reranked:.4f})")
    path.unlink(missing_ok=True)
    return (f"no reranker written: it did not beat the fused lists in cross-validation "
            f"(recall@{result.k} {result.recall_fused:.4f} → {result.recall_reranked:.4f})")
