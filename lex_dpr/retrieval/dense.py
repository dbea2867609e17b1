"""Dense retrieval: normalised passage embeddings in a FAISS index, inner product = cosine.

``flat`` (exact) is the default and right up to about a million passages; ``hnsw`` and ``ivf`` trade a
little recall for speed past that. Indexes save to and load from one file (FAISS's own format, no pickle).

Example:
    >>> import numpy as np
    >>> index = DenseIndex.build(np.eye(3, dtype=np.float32))
    >>> index.search(np.array([[0, 1, 0]], dtype=np.float32), k=1)[1].tolist()
    [[1]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lex_dpr.data.corpus import Corpus
from lex_dpr.errors import ConfigError, InputError
from lex_dpr.retrieval.base import Ranking
from lex_dpr.utils.folders import staged_file

FAISS_KINDS = ("flat", "hnsw", "ivf", "ivfpq")
PQ_TRAIN_MIN = 256  # an IVF-PQ index trains 256 centroids per sub-quantizer: at least this many passages
PQ_REFINE = 4  # an IVF-PQ search reads k × this many candidates and rescores them exactly (from the embeddings)


SINGLE_THREAD_QUERIES = 8  # at most this many queries are searched on one thread
BATCH_SCORES = 1 << 24  # a flat batch search holds at most this many float32 scores at once (64 MiB)
ROW_BLOCK = 1 << 17  # a flat batch search over more rows reads them this many at a time (128 queries a block)
MAX_RUNS = 64  # a row subset in at most this many runs is searched run by run, else over every row with a mask
EXACT_SLACK = 16  # a flat search reads this many more than asked and rescores them exactly (DenseIndex.search)


class RowSubset:
    """Some rows of a flat index (:meth:`DenseIndex.subset`): the kept rows as runs, which numpy multiplies by alone
    when there are few (:data:`MAX_RUNS`); the other rows' numbers, which a score matrix sets to -inf otherwise; and
    a bitmap FAISS skips them by, where FAISS searches. A question answered from statutes only searches their rows:
    on the shared data half the corpus, 1.46 → 0.61 ms for one query."""

    def __init__(self, keep: np.ndarray) -> None:
        import faiss

        self.keep = keep
        self.count = int(keep.sum())
        self.dropped = np.flatnonzero(~keep)
        edges = np.flatnonzero(np.diff(np.concatenate(([False], keep, [False])).astype(np.int8)))
        self.runs = edges.reshape(-1, 2)  # the kept rows as [start, end) runs: a numpy search reads only those
        self._bitmap = np.packbits(keep, bitorder="little")  # held here: FAISS reads it through a pointer
        self.params = faiss.SearchParameters(sel=faiss.IDSelectorBitmap(len(keep), faiss.swig_ptr(self._bitmap)))


@dataclass
class DenseIndex:
    """A FAISS inner-product index over L2-normalised vectors, and how it was built."""

    faiss_index: Any
    kind: str = "flat"
    params: dict[str, int] = field(default_factory=dict)
    vectors: np.ndarray | None = None  # the exact vectors (embeddings.npy, memory-mapped): what a flat search
    # multiplies by and an ivfpq search rescores from

    @classmethod
    def build(cls, vectors: np.ndarray, kind: str = "flat", hnsw_m: int = 32, ivf_lists: int | None = None,
              pq_m: int | None = None) -> DenseIndex:
        """Index ``vectors`` (n × d, already normalised). ``ivf`` and ``ivfpq`` train their lists (and product
        quantiser: ``pq_m`` sub-vectors of 8 bits, default d/8, so 1/32 of the flat index's memory) on the
        vectors themselves."""
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, dim = vectors.shape
        if kind == "flat":
            index, params = faiss.IndexFlatIP(dim), {}
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            params = {"m": hnsw_m, "ef_search": index.hnsw.efSearch}
        elif kind == "ivf":
            lists = ivf_lists or max(1, min(int(4 * np.sqrt(n)), n // 39 or 1))
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT)
            index.train(vectors)
            index.nprobe = min(lists, 16)
            params = {"lists": lists, "nprobe": index.nprobe}
        elif kind == "ivfpq":
            lists = ivf_lists or max(1, min(int(4 * np.sqrt(n)), n // 39 or 1))
            m = pq_m or default_pq_m(dim)
            problem = check_pq(m, dim, n)
            if problem:
                raise ConfigError(problem)
            index = faiss.IndexIVFPQ(faiss.IndexFlatIP(dim), dim, lists, m, 8, faiss.METRIC_INNER_PRODUCT)
            index.train(vectors)
            index.nprobe = min(lists, 16)
            params = {"lists": lists, "nprobe": index.nprobe, "pq_m": m}
        else:
            raise ConfigError(f"faiss index {kind!r} is not one of {', '.join(FAISS_KINDS)}")
        index.add(vectors)
        return cls(index, kind, params)

    @property
    def size(self) -> int:
        return int(self.faiss_index.ntotal)

    def search(self, queries: np.ndarray, k: int, within: RowSubset | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, row indices), each queries × k; rows of -1 mean fewer than k hits. ``within`` (a flat index
        only, :meth:`subset`): only those rows are searched, and only their distances computed.

        A flat index ranks each query the same whichever queries share its batch: FAISS computes a batch with
        BLAS and a few queries without, whose float32 sums differ in the last bits (a `rag batch` chunk, a resumed
        run or a shard would then order near-ties and round scores differently). The top ``k`` + 16 are rescored
        in float64, one query at a time, and sorted by (score, row).

        A flat index is searched with numpy: a matrix product (BLAS) and a partial sort, a block of rows at a time
        (:meth:`_candidates`). Its vectors must be aligned for BLAS to run at speed: FAISS's file puts them at an
        odd offset (45 bytes into a cache line for 768 dimensions), where one product of 128 queries by the shared
        data's 15,638 × 768 vectors took 42.9 ms against 14.0 ms aligned, so an opened index multiplies by
        ``embeddings.npy`` (``vectors``, aligned) instead (`python bench/bench_flat.py`). Where only
        unaligned vectors are at hand, a few queries (one `rag ask`, one server request) go to FAISS's own
        search on one thread: OpenMP's start-up and spinning cost more than they save there.
        """
        import faiss

        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if within is not None and self.kind != "flat":
            raise ValueError("a row subset is searched in a flat index only")
        size = self.size if within is None else within.count
        k = min(k, size)
        if k <= 0 or not len(queries):  # nothing to search (an empty subset or index): nothing found
            return np.empty((len(queries), 0), dtype=np.float32), np.empty((len(queries), 0), dtype=np.int64)
        fetch = min(k + EXACT_SLACK, size) if self.kind == "flat" else k
        if self.kind == "ivfpq" and self.vectors is not None:
            fetch = min(k * PQ_REFINE + EXACT_SLACK, self.size)
        if self.kind == "flat" and fetch and (len(queries) > SINGLE_THREAD_QUERIES or self._aligned()):
            scores, rows, cut = self._exact(queries, self._candidates(queries, fetch, within), k)
            while cut.any() and fetch < size:  # more ties at the cut than read: read deeper until it is below them
                fetch = min(fetch * 4, size)
                redo = np.flatnonzero(cut)
                scores[redo], rows[redo], cut[redo] = self._exact(
                    queries[redo], self._candidates(queries[redo], fetch, within), k)
            return scores, rows
        extra = {} if within is None else {"params": within.params}
        if len(queries) > SINGLE_THREAD_QUERIES:
            scores, rows = self.faiss_index.search(queries, fetch, **extra)
        else:
            threads = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(1)
            try:
                scores, rows = self.faiss_index.search(queries, fetch, **extra)
            finally:
                faiss.omp_set_num_threads(threads)
        if (self.kind != "flat" and (self.kind != "ivfpq" or self.vectors is None)) or not len(queries) or not fetch:
            return scores, rows
        return self._exact(queries, rows, k)[:2]

    def _stored(self) -> np.ndarray:
        """The exact vectors as an n × d array: the flat index's own (a view, no copy) or ``vectors``."""
        import faiss

        if self.vectors is not None:
            return self.vectors
        stored = faiss.rev_swig_ptr(self.faiss_index.get_xb(), self.size * self.faiss_index.d)
        return stored.reshape(self.size, self.faiss_index.d)

    def _aligned(self) -> bool:
        """Whether the exact vectors start where BLAS reads them at speed (16-byte aligned, as numpy's and FAISS's
        own arrays are; a FAISS file mapped from disk is not)."""
        if self.kind != "flat" or not self.size:
            return False
        return self._stored().ctypes.data % 16 == 0

    def subset(self, keep: np.ndarray) -> RowSubset:
        """The rows where ``keep`` (a bool per row) is true, ready for :meth:`search`'s ``within``."""
        return RowSubset(np.asarray(keep, dtype=bool))

    def _candidates(self, queries: np.ndarray, fetch: int, within: RowSubset | None = None) -> np.ndarray:
        """Each query's ``fetch`` best rows by float32 inner product (unordered), a block of queries at a time.

        Over more than :data:`ROW_BLOCK` rows the vectors are read a block of rows at a time, once per block of
        queries, keeping each query's best ``fetch`` so far: with the whole matrix at once a score block of
        :data:`BATCH_SCORES` held 16 queries at 1M rows, so every 16 questions read all 3 GB of vectors (memory-mapped:
        at disk speed once the page cache could not hold them; `rag batch` 1.3 questions/s a process at 1M)."""
        stored = self._stored()
        n = self.size
        rows = np.empty((len(queries), fetch), dtype=np.int64)
        block = min(n, ROW_BLOCK)
        step = max(1, BATCH_SCORES // block)
        dropped = within.dropped if within is not None else None
        if within is not None and len(within.runs) <= MAX_RUNS:  # the kept rows only, a run (block) at a time
            spans = [(a, min(end, a + block)) for start, end in within.runs.tolist() for a in range(start, end, block)]
            dropped = None
        else:
            spans = [(r0, min(n, r0 + block)) for r0 in range(0, n, block)]
        for start in range(0, len(queries), step):
            q = queries[start: start + step]
            best: tuple[np.ndarray, np.ndarray] | None = None  # the best ``fetch`` scores and rows so far
            for r0, r1 in spans:
                scores = q @ stored[r0: r1].T
                if dropped is not None:
                    lo, hi = np.searchsorted(dropped, [r0, r1])
                    scores[:, dropped[lo:hi] - r0] = -np.inf
                ids = np.broadcast_to(np.arange(r0, r1), scores.shape)
                if best is not None:
                    scores, ids = np.hstack([best[0], scores]), np.hstack([best[1], ids])
                if fetch < scores.shape[1]:
                    top = np.argpartition(-scores, fetch - 1, axis=1)[:, :fetch]
                    best = np.take_along_axis(scores, top, 1), np.take_along_axis(ids, top, 1)
                else:
                    best = scores, np.array(ids)
            assert best is not None
            rows[start: start + step] = best[1]
        return rows

    def _exact(self, queries: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The candidate ``rows`` rescored in float64, the best ``k`` of each query by (score, row), and whether the
        k-th score ties the lowest candidate's (then rows left unread may tie it too: :meth:`search` reads deeper)."""
        stored = self._stored()
        out_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        out_rows = np.full((len(queries), k), -1, dtype=rows.dtype)
        cut = np.zeros(len(queries), dtype=bool)
        for i, (query, found) in enumerate(zip(queries.astype(np.float64), rows, strict=True)):
            found = found[found >= 0]
            exact = stored[found].astype(np.float64) @ query
            order = np.lexsort((found, -exact))[:k]  # best score first, the lower row on a tie
            out_scores[i, :len(order)], out_rows[i, :len(order)] = exact[order], found[order]
            cut[i] = len(found) > len(order) == k and exact[order[-1]] == exact.min()
        return out_scores, out_rows, cut

    def save(self, path: str | Path) -> None:
        """Write the index to one file, complete or not at all."""
        import faiss

        with staged_file(path) as tmp:
            faiss.write_index(self.faiss_index, str(tmp))

    @classmethod
    def load(cls, path: str | Path, kind: str = "flat", params: dict[str, int] | None = None,
             mmap: bool = True) -> DenseIndex:
        """Open a saved index. With ``mmap`` a flat index's vectors and an IVF index's inverted lists stay in the
        file and page in as searches read them (FAISS's ``IO_FLAG_MMAP_IFC`` / ``IO_FLAG_MMAP``): opening takes
        no time and no memory whatever the corpus, and processes that open the same index (`rag batch --shard`
        workers, `serve`) share one copy in the page cache. An HNSW graph is read into memory."""
        import faiss

        if not Path(path).is_file():
            raise InputError(f"{path}: no dense index there; build it with `lex-dpr index build`")
        flags = 0
        if mmap:
            flags = {"flat": faiss.IO_FLAG_MMAP_IFC, "ivf": faiss.IO_FLAG_MMAP, "ivfpq": faiss.IO_FLAG_MMAP}.get(kind, 0)
        try:
            try:
                index = faiss.read_index(str(path), flags)
            except RuntimeError:
                if not flags:
                    raise
                index = faiss.read_index(str(path))  # a file system that cannot map it: read it into memory
        except RuntimeError as exc:
            raise InputError(f"{path}: not a FAISS index ({str(exc).splitlines()[0]}); build it again") from None
        params = dict(params or {})
        if kind == "hnsw" and "ef_search" in params:
            index.hnsw.efSearch = params["ef_search"]
        if kind in ("ivf", "ivfpq") and "nprobe" in params:
            index.nprobe = params["nprobe"]
        return cls(index, kind, params)


FLAT_WRITE_ROWS = 65_536  # rows written at a time by write_flat


def write_flat(vectors: np.ndarray, path: str | Path) -> DenseIndex:
    """Write a flat index of ``vectors`` (n × d, normalised; a memory-mapped ``embeddings.npy``) to ``path`` a block
    of rows at a time, without FAISS's in-memory copy of them (n·d·4 bytes: 3 GB at a million passages, 768
    dimensions); returns it opened memory-mapped. The file is the bytes ``DenseIndex.build(vectors).save(path)``
    writes (``tests/retrieval/test_dense_mmap.py``): FAISS's own header for an empty index of that dimension with
    its two counts set. Should this FAISS lay a flat index out otherwise, it is built in memory instead."""
    n, dim = vectors.shape
    layout = _flat_layout(dim)
    if layout is None or n == 0:
        DenseIndex.build(vectors).save(path)
    else:
        import struct

        header, ntotal_at, count_at = layout
        head = bytearray(header)
        struct.pack_into("<q", head, ntotal_at, n)
        struct.pack_into("<Q", head, count_at, n * dim)
        with staged_file(path) as tmp, open(tmp, "wb") as fh:
            fh.write(head)
            for start in range(0, n, FLAT_WRITE_ROWS):
                fh.write(np.ascontiguousarray(vectors[start: start + FLAT_WRITE_ROWS], dtype=np.float32).tobytes())
    return DenseIndex.load(path, "flat", {})


def _flat_layout(dim: int) -> tuple[bytes, int, int] | None:
    """FAISS's serialised empty ``IndexFlatIP(dim)`` and where its row count and float count sit, found by
    comparing the serialisations of 0, 1 and 2 rows; None unless they differ exactly there."""
    import struct

    import faiss

    def serialized(rows: int) -> bytes:
        index = faiss.IndexFlatIP(dim)
        if rows:
            index.add(np.ones((rows, dim), dtype=np.float32))
        return faiss.serialize_index(index).tobytes()

    s0, s1, s2 = serialized(0), serialized(1), serialized(2)
    size = len(s0)
    if len(s1) != size + 4 * dim or len(s2) != size + 8 * dim:
        return None
    diff = [i for i in range(size) if s1[i] != s2[i]]
    if len(diff) < 2:
        return None
    ntotal_at = next((i for i in range(max(0, diff[0] - 7), diff[0] + 1)
                      if s1[i:i + 8] == struct.pack("<q", 1) and s2[i:i + 8] == struct.pack("<q", 2)), None)
    count_at = next((i for i in range(max(0, diff[-1] - 7), diff[-1] + 1)
                     if s1[i:i + 8] == struct.pack("<Q", dim) and s2[i:i + 8] == struct.pack("<Q", 2 * dim)), None)
    if ntotal_at is None or count_at is None or ntotal_at == count_at:
        return None
    for s, rows in ((s0, 0), (s1, 1), (s2, 2)):
        if s[ntotal_at:ntotal_at + 8] != struct.pack("<q", rows) or s[count_at:count_at + 8] != struct.pack("<Q", rows * dim):
            return None
    counts = set(range(ntotal_at, ntotal_at + 8)) | set(range(count_at, count_at + 8))
    if any(s0[i] != s1[i] or s1[i] != s2[i] for i in range(size) if i not in counts):
        return None
    return s0, ntotal_at, count_at


def default_pq_m(dim: int) -> int:
    """Sub-vectors of an IVF-PQ code: d/8 when 8 divides d (96 bytes a passage at 768 dimensions), else the
    largest divisor of d at most d/8."""
    return next(m for m in range(max(1, dim // 8), 0, -1) if dim % m == 0)


def check_pq(m: int, dim: int, n: int) -> str | None:
    """Why an IVF-PQ index with ``m`` sub-vectors cannot be built over ``n`` × ``dim`` vectors, or None."""
    if dim % m:
        return f"--pq-m {m} does not divide the model's {dim} dimensions (try {default_pq_m(dim)})"
    if n < PQ_TRAIN_MIN:
        return (f"--faiss ivfpq trains 256 centroids per sub-vector: {n} passages are too few (need {PQ_TRAIN_MIN}); "
                "use --faiss flat")
    return None


def encode_passages(encoder, texts: Sequence[str], batch_size: int = 128, show_progress: bool = False) -> np.ndarray:
    """Normalised float32 passage embeddings (the encoder's document prompt applied)."""
    docs = encoder.encode_document(list(texts), batch_size=batch_size, normalize_embeddings=True,
                                   show_progress_bar=show_progress)
    return np.ascontiguousarray(docs, dtype=np.float32)


class DenseRetriever:
    """Any encoder with ``encode_query``/``encode_document`` over a corpus, searched with FAISS.

    Args:
        name: the system's name in reports.
        encoder: a SentenceTransformer (or ensemble) from :func:`lex_dpr.models.loading.load_encoder`.
        corpus: the passages; ranked ids come from it.
        index: a prebuilt :class:`DenseIndex` over ``corpus`` (else the corpus is encoded and indexed flat).
    """

    def __init__(self, name: str, encoder, corpus: Corpus, batch_size: int = 128, show_progress: bool = False,
                 index: DenseIndex | None = None) -> None:
        self.name, self.encoder, self.corpus, self.batch_size = name, encoder, corpus, batch_size
        if index is None:
            index = DenseIndex.build(encode_passages(encoder, corpus.texts, batch_size, show_progress))
        if index.size != len(corpus):
            raise InputError(f"the dense index has {index.size} passages, the corpus {len(corpus)}: "
                             "build the index again from this corpus")
        self.index = index
        self._subset: tuple = (None, None)  # the kept rows rank_kept was last given, and their RowSubset

    def encode_queries(self, queries: Sequence[str]) -> np.ndarray:
        q = self.encoder.encode_query(list(queries), batch_size=self.batch_size, normalize_embeddings=True)
        return np.ascontiguousarray(q, dtype=np.float32)

    def rank(self, queries: Sequence[str], k: int) -> list[Ranking]:
        return self._ranked(*self.index.search(self.encode_queries(queries), k))

    def rank_kept(self, queries: Sequence[str], k: int, keep: np.ndarray) -> list[Ranking] | None:
        """:meth:`rank` over the passages where ``keep`` (a bool per corpus row) is true, searching only those;
        ``None`` where this index cannot (an HNSW or IVF index: the caller reads deeper and filters)."""
        if self.index.kind != "flat":
            return None
        if self._subset[0] is not keep:
            self._subset = (keep, self.index.subset(keep))
        return self._ranked(*self.index.search(self.encode_queries(queries), k, within=self._subset[1]))

    def _ranked(self, scores: np.ndarray, idx: np.ndarray) -> list[Ranking]:
        ids = self.corpus.ids  # plain ints and floats first: reading numpy scalars one by one costs 0.3 ms a query
        return [[(ids[i], s) for i, s in zip(row_i, row_s, strict=True) if i >= 0]
                for row_i, row_s in zip(idx.tolist(), scores.astype(np.float64).tolist(), strict=True)]
