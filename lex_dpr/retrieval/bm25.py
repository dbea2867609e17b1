"""BM25 over Kiwi morphemes, backed by bm25s (sparse matrices, batched retrieval, memory-mapped loading)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lex_dpr.data.corpus import Corpus
from lex_dpr.errors import InputError
from lex_dpr.retrieval.base import Ranking
from lex_dpr.data.tokenize import tokenize_many
from lex_dpr.utils.folders import staged_folder

# What BM25 indexes besides a passage's text: its law or rule name, chapter and section. Measured on the shared
# corpus (bench/bench_quality.py), these lift every query set: plain questions R@6 0.441 → 0.458 (test),
# 0.573 → 0.605 (dev), held-out articles R@10 0.359 → 0.375.
SEARCH_FIELDS = ("title", "chapter", "section")
# Passages from which a retriever scores with bm25s' numba backend even where its compiled code cannot be cached
# on disk (then it compiles once a process, about 5 s): over the growth bench's 1M passages (an IVF dense index),
# numpy's scoring was 72% of `rag batch` (6.4 of 8.9 s for 300 statements: `add.at` over 7M postings a query),
# numba 2.3× faster a query. Where the cache works (:func:`numba_cached`) every index uses numba: on the shared
# data 0.11 ms a query against 0.20-0.21 (`python bench/bench_bm25_backend.py`). Either way a retriever ranks equal
# scores by row (:meth:`BM25Retriever.rank`), so the backend never changes a ranking.
NUMBA_MIN_PASSAGES = 500_000
TIE_SLACK = 16  # a retriever reads this many more than asked, so that ties at the cut are cut by row too
# Fewer queries at once stay on numpy below NUMBA_MIN_PASSAGES: a process's first numba search loads its code
# (0.19 s from the cache), more than a `rag ask` saves (0.1 ms).
NUMBA_MIN_QUERIES = 32


def search_text(record: dict, fields: Sequence[str] = SEARCH_FIELDS) -> str:
    """A passage as BM25 sees it: the ``fields`` it has (top level, or in ``meta``), one line, then its text.

    Example:
        >>> search_text({"title": "민법", "text": "제750조(불법행위의 내용) ...", "meta": {"chapter": "제5장 불법행위"}})
        '민법 제5장 불법행위\\n제750조(불법행위의 내용) ...'
        >>> search_text({"text": "본문"}, fields=())
        '본문'
    """
    head = search_head(record, fields)
    return f"{head}\n{record['text']}" if head else record["text"]


def search_head(record: dict, fields: Sequence[str] = SEARCH_FIELDS) -> str:
    """The line :func:`search_text` puts before a passage's text: its ``fields``, space-separated ("" if none)."""
    meta = record.get("meta") if isinstance(record.get("meta"), dict) else {}
    return " ".join(v.strip() for f in fields for v in (record.get(f, meta.get(f)),) if isinstance(v, str) and v.strip())


_NUMBA_CACHE: list[bool] = []  # filled once a process by numba_cached


def numba_cached() -> bool:
    """Whether bm25s' numba scoring loads its compiled code from disk: turns numba's on-disk cache on for bm25s'
    compiled functions (next to bm25s, else in the user's cache folder), once a process. The first search on a
    machine still compiles (about 5 s; ``scripts/install.sh`` does it once), every later process loads it in
    about 0.1 s. False where numba has nowhere to write it: then numba serves only large indexes.

    Example:
        >>> numba_cached() in (True, False)
        True
    """
    if not _NUMBA_CACHE:
        cached = False
        with contextlib.suppress(Exception):  # no numba, another bm25s layout, no cache folder: numpy then
            from bm25s.numba import retrieve_utils, selection

            compiled = [f for module in (retrieve_utils, selection) for f in vars(module).values()
                        if callable(getattr(f, "enable_caching", None))]
            for f in compiled:
                f.enable_caching()
            cached = bool(compiled)
        _NUMBA_CACHE.append(cached)
    return _NUMBA_CACHE[0]


def warm_numba() -> None:
    """Compile bm25s' numba scoring now (into the disk cache where :func:`numba_cached`): tiny indexes, one in memory
    and one saved and memory-mapped (read-only arrays), each searched without and with a weight mask (a question's
    statute rows): numba compiles each of the four apart."""
    import tempfile

    numba_cached()
    with tempfile.TemporaryDirectory() as tmp:  # numba types a saved index's read-only mapped arrays apart
        BM25Index([["민법", "손해"], ["형법"]]).save(Path(tmp) / "bm25")
        for index in (BM25Index([["민법", "손해"], ["형법"]]), BM25Index.load(Path(tmp) / "bm25", mmap=True)):
            index.search([["손해"]], 1, backend="numba")
            index.search([["손해"]], 1, backend="numba", weight_mask=np.ones(2, dtype=np.float32))


class BM25Index:
    """A BM25 index over pre-tokenised documents.

    Args:
        doc_tokens: one token list per document (from :func:`tokenize_many`).
        k1, b: BM25 parameters.
        method: a bm25s scoring variant ("lucene" by default; "robertson" is the
            rank-bm25 BM25Okapi formula).

    Example:
        >>> index = BM25Index([["민법", "손해", "배상"], ["형법", "사기"]])
        >>> docs, scores = index.search([["손해", "배상"]], k=1)[0]
        >>> docs.tolist()
        [0]
    """

    def __init__(self, doc_tokens: Sequence[Sequence[str]] | None, k1: float = 1.5, b: float = 0.75,
                 method: str = "lucene") -> None:
        import bm25s

        self._bm25 = bm25s.BM25(k1=k1, b=b, method=method)
        self._numba = None  # the same index searched by bm25s' numba backend (made on first use)
        self.size = 0
        if doc_tokens is not None:
            self.size = len(doc_tokens)
            # token ids in first-appearance order: bm25s numbers a vocabulary built from a set, whose order
            # changes with PYTHONHASHSEED, so the saved files would differ from one process to the next
            vocab: dict[str, int] = {}
            ids = [[vocab.setdefault(t, len(vocab)) for t in doc] for doc in doc_tokens]
            self._bm25.index((ids, vocab), show_progress=False)

    @classmethod
    def from_texts(cls, texts: Sequence[str], workers: int = 0, **kwargs) -> BM25Index:
        return cls(tokenize_many(texts, workers=workers), **kwargs)

    def search(self, query_tokens: Sequence[Sequence[str]], k: int, n_threads: int = 0,
               weight_mask: np.ndarray | None = None, backend: str = "numpy") -> list[tuple[np.ndarray, np.ndarray]]:
        """Top-``k`` (doc indices, scores) per query, best first; zero-score hits dropped. ``weight_mask`` (a float
        per document, bm25s' own option) multiplies the scores: 0 leaves a document out. ``backend``: bm25s'
        ``numpy`` or ``numba`` (compiled on its first search in a process, about 5 s; 2.8× faster a query over
        1M passages in two processes, bench/bench_negatives.py): the same scores, equal ones possibly in another
        order."""
        empty = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32))
        out = [empty] * len(query_tokens)
        asked = [i for i, q in enumerate(query_tokens) if q]  # no tokens ("???", "ㅋㅋ"): no BM25 hits
        if not asked or self.size == 0:
            return out
        k = min(k, self.size)
        if weight_mask is not None:
            weight_mask = np.asarray(weight_mask, dtype=np.float32)  # numba's scoring is typed for float32
        docs, scores = self._backend(backend).retrieve([list(query_tokens[i]) for i in asked], k=k,
                                           show_progress=False, n_threads=n_threads, weight_mask=weight_mask)
        for i, d, s in zip(asked, docs, scores, strict=True):
            keep = s > 0
            out[i] = (d[keep].astype(np.int64), s[keep])
        return out

    def _backend(self, backend: str):
        """bm25s' index searching with ``backend``: the numba one is a shallow copy sharing the arrays, so threads
        searching this index (``serve``'s lanes) never see another's backend."""
        if backend == "numpy":
            return self._bm25
        if backend != "numba":
            raise ValueError(f"BM25 backend {backend!r}: use 'numpy' or 'numba'")
        if self._numba is None:  # made whole before it is shared: another thread never sees it half set
            import copy

            numba_cached()  # its compiled code from numba's disk cache wherever it can be (make-pairs' workers too)

            numba = copy.copy(self._bm25)
            numba.backend = "numba"
            self._numba = numba
        return self._numba

    def holds(self, docs: np.ndarray, terms: Sequence[str]) -> np.ndarray:
        """Whether each of ``docs`` (row numbers) holds each of ``terms`` (tokens): a bool matrix, read from the
        index's term→document columns without tokenising anything.

        Example:
            >>> BM25Index([["민법", "손해"], ["형법"]]).holds(np.array([0, 1]), ["손해", "형법", "없음"]).tolist()
            [[True, False, False], [False, True, False]]
        """
        scores, vocab = self._bm25.scores, self._bm25.vocab_dict
        indptr, indices = scores["indptr"], scores["indices"]
        out = np.zeros((len(docs), len(terms)), dtype=bool)
        for j, term in enumerate(terms):
            tid = vocab.get(term)
            if tid is None or tid + 1 >= len(indptr):
                continue
            column = indices[indptr[tid]:indptr[tid + 1]]
            if len(column):
                pos = np.minimum(np.searchsorted(column, docs), len(column) - 1)
                out[:, j] = column[pos] == docs
        return out

    def save(self, folder: str | Path) -> None:
        """Write the index to ``folder`` (bm25s' own .npy/.json files), complete or not at all."""
        with staged_folder(folder) as tmp:
            self._bm25.save(str(tmp), show_progress=False)

    @classmethod
    def load(cls, folder: str | Path, mmap: bool = True) -> BM25Index:
        """Open a saved index; with ``mmap`` the score matrix stays on disk and pages in as queries need it."""
        import bm25s

        folder = Path(folder)
        if not (folder / "params.index.json").is_file():
            raise InputError(f"{folder}: not a saved BM25 index (no params.index.json); build it again")
        index = cls(None)
        try:
            index._bm25 = bm25s.BM25.load(str(folder), mmap=mmap, show_progress=False)
        except (OSError, ValueError) as exc:
            raise InputError(f"{folder}: cannot read the BM25 index ({exc}); build it again") from None
        index.size = int(index._bm25.scores["num_docs"])
        if mmap:  # plain ndarray views of the same mapped pages: np.memmap's per-slice bookkeeping cost 30% of a query
            scores = index._bm25.scores
            for key, value in scores.items():
                if isinstance(value, np.memmap):
                    scores[key] = np.asarray(value)
        return index


class BM25Retriever:
    """BM25 over a corpus, ranking passage ids (the same tokenisation as mining and indexing).

    Example:
        >>> corpus = Corpus(["a", "b"], ["민법 손해배상 책임", "형법 사기죄"], [{}, {}])
        >>> BM25Retriever(corpus).rank(["손해배상"], k=1)[0][0][0]
        'a'
    """

    name = "bm25"

    def __init__(self, corpus: Corpus, workers: int = 0, index: BM25Index | None = None,
                 fields: Sequence[str] = SEARCH_FIELDS) -> None:
        self.corpus, self.workers = corpus, workers
        if index is None:
            texts = [search_text({**r, "text": t}, fields) for r, t in zip(corpus.records, corpus.texts, strict=True)]
            index = BM25Index.from_texts(texts, workers=workers)
        self.index = index
        # a batch's backend (NUMBA_MIN_QUERIES or more queries; fewer stay on numpy below NUMBA_MIN_PASSAGES)
        cached = numba_cached()  # first: a large index uses numba either way, and should load it, not compile it
        self.backend = "numba" if cached or index.size >= NUMBA_MIN_PASSAGES else "numpy"
        self._mask: tuple = (None, None)  # the kept rows rank_kept was last given, and them as bm25s' weight mask
        if self.index.size != len(corpus):
            raise InputError(f"the BM25 index has {self.index.size} passages, the corpus {len(corpus)}: "
                             "build the index again from this corpus")

    def matches(self, queries: Sequence[str]) -> list[bool]:
        """Whether each query has a morpheme some passage holds: ``"😀🔥"``, ``"*"`` or ``"AND OR NOT"`` have none.

        Example:
            >>> corpus = Corpus(["a"], ["민법 손해배상 책임"], [{}])
            >>> BM25Retriever(corpus).matches(["손해배상 책임은?", "😀😀🔥", "AND OR NOT"])
            [True, False, False]
        """
        vocab = self.index._bm25.vocab_dict
        return [any(t and t in vocab for t in toks) for toks in tokenize_many(list(queries), workers=self.workers)]

    def rank(self, queries: Sequence[str], k: int, weight_mask: np.ndarray | None = None) -> list[Ranking]:
        """The top ``k`` (passage id, score) of each query, best first, equal scores in row order: bm25s' two
        backends give the same scores but order ties (and pick them at the cut) each their own way."""
        backend = self.backend if len(queries) >= NUMBA_MIN_QUERIES or self.index.size >= NUMBA_MIN_PASSAGES else "numpy"
        tokens = tokenize_many(list(queries), workers=self.workers)
        fetch = k + TIE_SLACK
        hits = self.index.search(tokens, fetch, weight_mask=weight_mask, backend=backend)
        while fetch < self.index.size:  # more ties at the cut than read: read deeper until the cut is below them
            cut = [i for i, (_, s) in enumerate(hits) if len(s) == fetch and len(s) >= k and np.sort(s)[-k] == s.min()]
            if not cut:
                break
            fetch = min(fetch * 4, self.index.size)
            for i, h in zip(cut, self.index.search([tokens[i] for i in cut], fetch, weight_mask=weight_mask,
                                                   backend=backend), strict=True):
                hits[i] = h
        ids, out = self.corpus.ids, []
        for d, s in hits:
            order = np.lexsort((d, -s))[:k]
            out.append([(ids[i], v) for i, v in zip(d[order].tolist(), s[order].astype(np.float64).tolist(), strict=True)])
        return out

    def rank_kept(self, queries: Sequence[str], k: int, keep: np.ndarray) -> list[Ranking]:
        """:meth:`rank` over the passages where ``keep`` (a bool per corpus row) is true: the others score 0
        (bm25s' weight mask), so the top ``k`` are read once, not deeper and filtered."""
        if self._mask[0] is not keep:
            self._mask = (keep, np.asarray(keep, dtype=np.float32))
        return self.rank(queries, k, weight_mask=self._mask[1])
