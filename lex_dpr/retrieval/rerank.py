"""Learned reranking of a question's fused candidates: LightGBM LambdaMART over cheap features.

The hybrid retriever finds the answering article among a question's top 50 far more often than in its top 6
(on the shared data's dev questions: Recall@50 0.92, Recall@6 0.68). A ranker trained on labelled questions
(``rag tune --questions``, their dev split) reorders those 50 with what a fused score cannot weigh:

- each list's rank and score (dense, BM25, fused; raw and relative to the list's best);
- how much of the passage's law name and article heading the question (and its lexicon terms) names;
- whether the passage holds the legal terms the lexicon added (read from the BM25 index, no tokenising);
- how often training pairs cite the passage, and its length;
- where the article stands in its law (its number) and whether its heading says it defines terms (정의) or
  states the law's purpose (목적): general articles answer some questions and few others.

The model is stored in LightGBM's text format inside ``INDEX/rerank.json`` (data, never code), trained
single-threaded and deterministic, so the same questions give the same bytes.

Example:
    >>> import numpy as np
    >>> len(FEATURES)
    20
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from lex_dpr.errors import InputError
from lex_dpr.retrieval.base import Ranking
from lex_dpr.data.tokenize import tokenize_many
from lex_dpr.utils.hashing import sha256_hex

FEATURES = ("fused_score", "fused_rank", "dense_score", "dense_rank", "dense_rel", "bm25_score", "bm25_rank",
            "bm25_rel", "title_share", "heading_share", "heading_hits", "popularity", "length",
            "heading_terms", "title_terms", "text_terms", "expanded", "article_number", "defines", "purpose")
_ARTICLE = re.compile(r"\s*제\s*(\d+)\s*조")  # a record's article field: 제750조, 제2조의3
# 정의 and 목적 as words of a heading ("정의", "용어의 정의", "목적"), not inside one ("규정의 준용", "목적물의 공탁")
_DEFINES = re.compile(r"(?<![가-힣])정의(?![가-힣])")
_PURPOSE = re.compile(r"(?<![가-힣])목적(?![가-힣])")
CANDIDATES = 50  # fused candidates a question's reranker reorders
MISSING_RANK = 150  # the rank of a passage absent from one list
RERANK_FILE = "rerank.json"  # in the index folder, written by `rag tune --questions`
# LambdaMART settings: the best of seven on 5-fold cross-validation over the shared data's 406 dev questions
# (Recall@6 0.6351 against 0.6244 with the earlier 50 rounds; bench/bench_directions.py --only params).
# Small trees: a few hundred questions train it.
PARAMS = {"objective": "lambdarank", "n_estimators": 100, "learning_rate": 0.1, "num_leaves": 3,
          "min_child_samples": 50, "random_state": 0, "deterministic": True, "num_threads": 1, "verbose": -1}


@dataclass
class Candidates:
    """One question's fused top list with what each passage scored in the dense and BM25 lists."""

    query: str
    dense: Ranking
    bm25: Ranking
    fused: Ranking


@dataclass
class PassageInfo:
    """What features read about passages: their titles, headings, lengths, training citations, BM25 terms."""

    corpus: Any
    bm25_index: Any | None = None  # lex_dpr.retrieval.bm25.BM25Index: which passage holds which term
    popularity: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._words: dict[str, frozenset[str]] = {}  # title or heading text → its content morphemes
        self._articles: dict[str, tuple[float, float, float]] = {}  # passage id → PassageInfo.article

    def words(self, pid: str, key: str) -> frozenset[str]:
        value = self.corpus.records[self.corpus.index[pid]].get(key)
        if not isinstance(value, str) or not value:
            return frozenset()
        if value not in self._words:
            if len(self._words) >= 100_000:
                self._words.clear()
            self._words[value] = frozenset(tokenize_many([value])[0])
        return self._words[value]

    def warm(self, pids: Sequence[str]) -> None:
        """Tokenise the titles and headings of ``pids`` in one Kiwi call (training reads thousands)."""
        texts = sorted({v for pid in pids for key in ("title", "heading")
                        for v in (self.corpus.records[self.corpus.index[pid]].get(key),)
                        if isinstance(v, str) and v and v not in self._words})
        self._words.update((t, frozenset(w)) for t, w in zip(texts, tokenize_many(texts), strict=True))

    def article(self, pid: str) -> tuple[float, float, float]:
        """(log(1 + the article's number), whether its heading defines terms, whether it states the purpose);
        a passage that is not a numbered article: (-1, 0, 0)."""
        found = self._articles.get(pid)
        if found is None:
            record = self.corpus.records[self.corpus.index[pid]]
            number = _ARTICLE.match(record.get("article") or "") if isinstance(record.get("article"), str) else None
            heading = record.get("heading") if isinstance(record.get("heading"), str) else ""
            found = (math.log1p(int(number.group(1))) if number else -1.0, float(bool(_DEFINES.search(heading))),
                     float(bool(_PURPOSE.search(heading))))
            if len(self._articles) >= 100_000:
                self._articles.clear()
            self._articles[pid] = found
        return found

    def length(self, pid: str) -> float:
        return math.log1p(len(self.corpus.texts[self.corpus.index[pid]]))

    def holds(self, pids: Sequence[str], terms: Sequence[str]) -> np.ndarray:
        """Per passage, the share of ``terms`` its BM25 tokens hold (0 without terms or a BM25 index)."""
        if not terms or self.bm25_index is None:
            return np.zeros(len(pids))
        rows = np.array([self.corpus.index[p] for p in pids])
        return self.bm25_index.holds(rows, terms).mean(axis=1)


def features(cands: Candidates, info: PassageInfo, terms: Sequence[str] = ()) -> np.ndarray:
    """The :data:`FEATURES` of each fused candidate, one row each."""
    query_words, *term_lists = tokenize_many([cands.query, *terms])  # workers=0: the Kiwi BM25 queries use
    query_words = frozenset(query_words)
    term_words = frozenset(w for t in term_lists for w in t) - query_words
    dense = {pid: (i, s) for i, (pid, s) in enumerate(cands.dense)}
    bm25 = {pid: (i, s) for i, (pid, s) in enumerate(cands.bm25)}
    dense_top = cands.dense[0][1] if cands.dense else 1.0
    bm25_top = cands.bm25[0][1] if cands.bm25 else 1.0
    pids = [pid for pid, _ in cands.fused]
    text_terms = info.holds(pids, sorted(term_words))
    rows = []
    for i, (pid, score) in enumerate(cands.fused):
        title, heading = info.words(pid, "title"), info.words(pid, "heading")
        d_rank, d_score = dense.get(pid, (MISSING_RANK, 0.0))
        b_rank, b_score = bm25.get(pid, (MISSING_RANK, 0.0))
        rows.append([score, i, d_score, d_rank, d_score / dense_top if dense_top else 0.0,
                     b_score, b_rank, b_score / bm25_top if bm25_top else 0.0,
                     len(title & query_words) / max(1, len(title)), len(heading & query_words) / max(1, len(heading)),
                     len(heading & query_words), math.log1p(info.popularity.get(pid, 0)), info.length(pid),
                     len(heading & term_words) / max(1, len(heading)), len(title & term_words) / max(1, len(title)),
                     float(text_terms[i]), float(bool(term_words)), *info.article(pid)])
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))


class Trees:
    """LightGBM's trees (its ``dump_model()`` JSON) evaluated with numpy: the same scores as
    ``Booster.predict`` (tests/retrieval/test_rerank.py checks it against LightGBM) without importing
    LightGBM, which pulls in scikit-learn: 1.5–8 s at every `rag ask` start on 2 cores, for 50 three-leaf trees.
    Numerical splits (``<=``) only, which is all a model on :data:`FEATURES` has.
    """

    def __init__(self, tree_info: Sequence[dict]) -> None:
        feat, thr, left, right, value, nan_left, roots = [], [], [], [], [], [], []
        depth = 0

        def add(node: dict, level: int) -> int:
            nonlocal depth
            i = len(feat)
            feat.append(0), thr.append(0.0), left.append(i), right.append(i), nan_left.append(False)
            value.append(float(node.get("leaf_value", 0.0)))
            if "leaf_value" in node:
                depth = max(depth, level)
                return i
            if node.get("decision_type") != "<=" or node.get("missing_type") not in ("None", "NaN"):
                raise InputError(f"a reranker tree splits with {node.get('decision_type')!r}/"
                                 f"{node.get('missing_type')!r}; only numerical '<=' splits are supported")
            feat[i], thr[i] = int(node["split_feature"]), float(node["threshold"])
            nan_left[i] = bool(node.get("default_left")) and node.get("missing_type") == "NaN"
            left[i] = add(node["left_child"], level + 1)
            right[i] = add(node["right_child"], level + 1)
            return i

        for tree in tree_info:
            roots.append(add(tree["tree_structure"], 0))
        self.feat, self.thr = np.array(feat, dtype=np.int64), np.array(thr)
        self.left, self.right = np.array(left, dtype=np.int64), np.array(right, dtype=np.int64)
        self.value, self.nan_left = np.array(value), np.array(nan_left)
        self.roots, self.depth = np.array(roots, dtype=np.int64), depth

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The sum of the trees' leaf values for each row of ``X``."""
        if not len(self.roots):
            return np.zeros(len(X))
        node = np.broadcast_to(self.roots, (len(X), len(self.roots))).copy()
        rows = np.arange(len(X))[:, None]
        for _ in range(self.depth):
            x = X[rows, self.feat[node]]
            go_left = np.where(np.isnan(x), self.nan_left[node], x <= self.thr[node])
            node = np.where(go_left, self.left[node], self.right[node])  # a leaf points to itself
        return self.value[node].sum(axis=1)


class Reranker:
    """A trained LambdaMART model and the passage facts its features read."""

    def __init__(self, tree_info: list[dict], info: PassageInfo, meta: dict[str, Any] | None = None,
                 model_text: str = "") -> None:
        self.tree_info, self.trees = tree_info, Trees(tree_info)
        self.info, self.meta, self.model_text = info, meta or {}, model_text

    @classmethod
    def from_booster(cls, booster, info: PassageInfo, meta: dict[str, Any] | None = None) -> Reranker:
        return cls(booster.dump_model()["tree_info"], info, meta, booster.model_to_string())

    def rerank(self, cands: Candidates, terms: Sequence[str] = ()) -> Ranking:
        """``cands.fused`` reordered by the model (ties keep the fused order); scores are the model's."""
        if len(cands.fused) < 2:
            return list(cands.fused)
        scores = self.trees.predict(features(cands, self.info, terms))
        order = np.argsort(-scores, kind="stable")
        return [(cands.fused[i][0], float(scores[i])) for i in order]

    def save(self, path: str | Path) -> Path:
        """One JSON file, written atomically: the features, the trees (LightGBM's JSON dump and text format)
        and the citation counts."""
        from lex_dpr.utils.io import atomic_open

        self.meta["sha256"] = sha256_hex(self.model_text, 16)
        doc = {**self.meta, "features": list(FEATURES), "popularity": self.info.popularity,
               "words": {text: sorted(w) for text, w in sorted(self.info._words.items())},
               "trees": self.tree_info, "model": self.model_text}
        with atomic_open(path) as fh:
            fh.write(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS))
        return Path(path)

    @classmethod
    def load(cls, path: str | Path, corpus, bm25_index=None) -> Reranker:
        path = Path(path)
        fix = "run `lex-dpr rag tune --questions F` again, or remove it"
        try:
            doc = orjson.loads(path.read_bytes())
            tree_info = doc.pop("trees")
            Trees(tree_info)
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"{path}: cannot read the question reranker ({type(exc).__name__}: {exc}); {fix}") from None
        if doc.get("features") != list(FEATURES):
            raise InputError(f"{path}: the reranker was trained on other features than this lex-dpr computes; {fix}")
        popularity = doc.pop("popularity", None) or {}
        words = doc.pop("words", None) or {}
        info = PassageInfo(corpus, bm25_index, dict(popularity))
        info._words.update((text, frozenset(w)) for text, w in words.items() if isinstance(w, list))
        return cls(tree_info, info, doc, doc.pop("model", ""))


def train(cands: Sequence[Candidates], relevant: Sequence[set[str]], info: PassageInfo,
          terms: Sequence[Sequence[str]], params: dict[str, Any] | None = None):
    """A LightGBM booster trained on the candidates of labelled questions (those with no positive among their
    candidates teach nothing and are left out)."""
    import lightgbm

    X, y, groups = [], [], []
    for c, rel, t in zip(cands, relevant, terms, strict=True):
        labels = [int(pid in rel) for pid, _ in c.fused]
        if not any(labels) or len(labels) < 2:
            continue
        X.append(features(c, info, t))
        y += labels
        groups.append(len(labels))
    if len(groups) < 10:
        raise InputError(f"only {len(groups)} questions have an answering passage among their top {CANDIDATES}: "
                         "too few to train a reranker (need 10)")
    model = lightgbm.LGBMRanker(**{**PARAMS, **(params or {})})
    model.fit(np.vstack(X), np.asarray(y), group=groups)
    return model.booster_


class QuestionReranker:
    """What :class:`~lex_dpr.retrieval.fusion.FusionRetriever` calls: a :class:`Reranker` for the queries asked as
    questions, fed the lexicon terms the question got."""

    candidates = CANDIDATES

    def __init__(self, reranker: Reranker, lexicon=None) -> None:
        from lex_dpr.utils.text import is_question

        self.reranker, self.lexicon, self.applies = reranker, lexicon, is_question

    def rerank(self, query: str, dense: Ranking, bm25: Ranking, fused: Ranking) -> Ranking:
        terms = self.lexicon.terms(query) if self.lexicon is not None else []
        return self.reranker.rerank(Candidates(query, dense, bm25, fused[:CANDIDATES]), terms)


def rerank_order(reranker: Reranker, cands: Candidates, terms: Sequence[str] = ()) -> list[str]:
    """The passage ids of ``cands`` in the reranker's order."""
    return [pid for pid, _ in reranker.rerank(cands, terms)]
