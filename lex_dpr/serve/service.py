"""What the server keeps loaded, and the library calls behind each endpoint.

:class:`SearchService` opens an index the way ``lex-dpr rag ask`` does (:func:`~lex_dpr.rag.answer.open_answerer`,
with the same ``--llm``/``--retrieval``/``--set`` overrides) and answers in batches: ``search`` ranks many
questions with one query encoding and one BM25 call, ``answer`` is :meth:`Answerer.answer`, ``embed`` uses the
index's own encoder with its query or passage prompt, so an ``/embed`` vector is the one search compares.

**Reload.** ``lex-dpr index update`` swaps the index folder in one atomic exchange. :meth:`SearchService.
reload_if_changed` notices the swap by the manifest's identity (inode, size, mtime) and the tuned settings
file's, opens the new folder beside the old one, checks that the folder did not change while it was read, and
only then replaces the loaded state in one assignment. A batch holds the state it started with, so no request
ever reads half of one index and half of another; the generator and the prompt templates are kept.

Example:
    >>> service = SearchService("index")  # doctest: +SKIP
    >>> service.search(["불법행위 손해배상"], k=3)[0]["results"][0]["law"]  # doctest: +SKIP
    '민법'
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lex_dpr.errors import ConfigError, InputError
from lex_dpr.rag.answer import Answerer, open_answerer
from lex_dpr.rag.config import SETTINGS_FILE, Method, load_rag_config, read_index_settings
from lex_dpr.retrieval.dense import encode_passages
from lex_dpr.retrieval.fusion import FusionRetriever
from lex_dpr.retrieval.index import MANIFEST, Manifest, open_index, read_manifest
from lex_dpr.retrieval.index.manifest import ModelInfo

log = logging.getLogger(__name__)

MODES = tuple(m.value for m in Method)
KINDS = ("query", "passage")
_VARIANTS = 64  # (mode, weight, k) answerers kept per loaded index


def limit_threads(threads: int) -> None:
    """FAISS's OpenMP threads for the calling thread (OpenMP keeps the setting per thread: every thread that
    searches calls this). Requests are batched, so one thread per worker process keeps the cores busy without
    OpenMP threads spinning against each other: on 2 shared cores one flat search of 15,638 vectors took 32 ms
    with 2 threads and 5 ms with 1. Batches of 4 or more questions search as one matrix product (BLAS) instead
    of one scan each (16 questions: 74 ms as scans, 10-22 ms as one product, same machine)."""
    import faiss

    faiss.omp_set_num_threads(threads)
    faiss.cvar.distance_compute_blas_threshold = 4


def _stamp(folder: Path) -> tuple:
    """What changes when the index folder is swapped or re-tuned (inode, size and mtime of two files)."""
    out = []
    for name in (MANIFEST, SETTINGS_FILE):
        try:
            st = os.stat(folder / name)
            out.append((st.st_ino, st.st_size, st.st_mtime_ns))
        except FileNotFoundError:
            out.append(None)
    return tuple(out)


@dataclasses.dataclass
class _Loaded:
    """One opened index with its answerer; replaced whole on reload, never changed in place."""

    answerer: Answerer
    stamp: tuple
    opened_at: float
    variants: dict = dataclasses.field(default_factory=dict)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def variant(self, mode: str | None, weight: float | None, k: int | None) -> Answerer:
        """The answerer with a request's retrieval mode, weight and k (the index's settings where None)."""
        base = self.answerer
        if mode is None and weight is None and k is None:
            return base
        key = (mode, weight, k)
        with self.lock:
            found = self.variants.get(key)
            if found is None:
                r = base.cfg.retrieval
                changes: dict[str, Any] = {}
                if mode is not None:
                    changes.update(method=Method(mode), uncited_bonus=0.0)  # as `rag ask --retrieval` does
                if weight is not None:  # as `rag ask --weight` does
                    changes.update(weight=float(weight), question_weight=None, uncited_bonus=0.0)
                if k is not None:
                    changes["k"] = int(k)
                cfg = dataclasses.replace(base.cfg, retrieval=dataclasses.replace(r, **changes))
                found = Answerer(base.index, cfg, base.generator, base.templates)
                if len(self.variants) >= _VARIANTS:
                    self.variants.clear()
                self.variants[key] = found
        return found


class SearchService:
    """The loaded index, retriever, encoder and generator, and the batched calls the endpoints make.

    Args:
        index_dir: an index folder from ``lex-dpr index build``.
        cfg_path, overrides, model, device: as :func:`~lex_dpr.rag.answer.open_answerer` takes them (the
            ``rag ask`` flags as ``key=value`` overrides).

    Raises:
        InputError, ConfigError: as ``rag ask`` raises them (no index, a bad setting, a model that does not load).
    """

    def __init__(self, index_dir: str | Path, cfg_path: str | Path | None = None, overrides: Sequence[str] = (),
                 model: str | None = None, device: str | None = None) -> None:
        self.folder = Path(index_dir)
        self.cfg_path, self.overrides, self.model, self.device = cfg_path, list(overrides), model, device
        self.reloads = 0
        self._reload_lock = threading.Lock()
        stamp = _stamp(self.folder)
        self.state = _Loaded(open_answerer(self.folder, cfg_path, self.overrides, model, device), stamp,
                             time.time())

    def warm_up(self) -> None:
        """One search and one embedding, so the first client does not pay for lazy loading (Kiwi, pages, bm25s'
        numba code for batches)."""
        self.search(["민법 제750조 불법행위 손해배상"], k=1)
        bm25 = self.state.answerer.index.bm25
        if bm25 is not None and bm25.backend == "numba":
            from lex_dpr.retrieval.bm25 import warm_numba

            warm_numba()
        if self.state.answerer.index.dense is not None:
            self.embed(["민법"], "query")

    # ------------------------------------------------------------------------------------------- reload

    def changed(self) -> bool:
        return _stamp(self.folder) != self.state.stamp

    def reload_if_changed(self, force: bool = False) -> bool:
        """Open the index again when its folder was swapped (or ``force``); True when the state was replaced.

        The old state keeps serving until the new one is complete; a folder that changes while it is being
        read is read again (up to three times), and a failure leaves the old state in place and is raised.
        """
        with self._reload_lock:
            if not force and not self.changed():
                return False
            old = self.state
            for _ in range(3):
                before = _stamp(self.folder)
                cfg = load_rag_config(self.cfg_path, self.overrides, read_index_settings(self.folder))
                index = open_index(self.folder, model=self.model, device=self.device)
                if _stamp(self.folder) == before and read_manifest(self.folder) == index.manifest:
                    new = _Loaded(Answerer(index, cfg, old.answerer.generator, old.answerer.templates), before,
                                  time.time())
                    new.answerer.retriever.rank(["민법 제750조 불법행위 손해배상"], 1)  # pages in before it serves
                    self.state = new
                    self.reloads += 1
                    log.info("%s: reloaded (corpus %s)", self.folder, _corpus_sha(index.manifest)[:12])
                    return True
            raise InputError(f"{self.folder}: the index kept changing while it was read; try POST /reload again")

    # ------------------------------------------------------------------------------------------- calls

    def search(self, questions: Sequence[str], k: int | None = None, mode: str | None = None,
               weight: float | None = None) -> list[dict[str, Any]]:
        """Rank passages for ``questions`` together; each result has its fused score and, for a hybrid index,
        the dense and BM25 scores it was fused from (None where the passage was not in that list's top)."""
        answerer = self.state.variant(mode, weight, k)
        k = answerer.cfg.retrieval.k
        retriever = answerer.retriever
        questions = list(questions)
        parts: list[tuple[dict, dict]] = [({}, {})] * len(questions)
        fused = getattr(retriever, "inner", retriever)  # under CitedFirst (retrieval.citations) when it is on
        if isinstance(fused, FusionRetriever):  # FusionRetriever.rank, with the two lists kept for the scores
            depth = max(fused.depth, k)
            a = fused.first.rank(questions, depth)
            b = fused.second.rank(questions, depth)
            rankings = [fused.combine_for(q, x, y, k)  # its weight, and the question reranker where it applies
                        for q, x, y in zip(questions, a, b, strict=True)]
            if fused is not retriever:  # the articles a question names, first
                rankings = [retriever.promote(q, r, k) for q, r in zip(questions, rankings, strict=True)]
            names = (fused.first.name, fused.second.name)
            parts = [(dict(x), dict(y)) for x, y in zip(a, b, strict=True)]
        else:
            rankings = retriever.rank(questions, k)
            names = (retriever.name, "")
        corpus = answerer.index.corpus
        matched = answerer.matches(questions)
        out = []
        for q, ranking, (sa, sb), m in zip(questions, rankings, parts, matched, strict=True):
            results = []
            if not m:  # no word of it occurs in the index: nothing, flagged, as `rag ask` answers it
                out.append({"question": q, "retrieval": retriever.name, "k": k, "results": [], "flags": ["no_match"]})
                continue
            for rank, (pid, score) in enumerate(ranking[:k], start=1):
                i = corpus.index[pid]
                rec = corpus.records[i]
                scores = {names[0]: sa.get(pid), names[1]: sb.get(pid)} if names[1] else {names[0]: score}
                results.append({"rank": rank, "id": pid, "law": str(rec.get("title") or ""),
                                "article": str(rec.get("article") or ""), "text": corpus.texts[i],
                                "score": round(float(score), 6),
                                "scores": {n: None if s is None else round(float(s), 6) for n, s in scores.items()}})
            out.append({"question": q, "retrieval": retriever.name, "k": k, "results": results, "flags": []})
        return out

    def answer(self, questions: Sequence[str], k: int | None = None, mode: str | None = None,
               weight: float | None = None) -> list[dict[str, Any]]:
        """``rag ask --json`` for each question (one retrieval batch, one generation batch)."""
        answerer = self.state.variant(mode, weight, k)
        out = []
        for ans in answerer.answer(list(questions)):
            d = ans.to_dict()
            d["settings"] = {"retrieval": answerer.retriever.name, "llm": answerer.cfg.llm}
            out.append(d)
        return out

    def embed(self, texts: Sequence[str], kind: str = "passage", normalize: bool = True) -> np.ndarray:
        """float32 vectors of ``texts`` as the index embeds them: ``query`` with the query prompt (what search
        encodes a question with), ``passage`` with the document prompt (what the index stored)."""
        if kind not in KINDS:
            raise ConfigError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
        dense = self.state.answerer.index.dense
        if dense is None:
            raise ConfigError(f"{self.folder} has no dense part (built with --no-dense): nothing embeds texts; "
                              "build it with --model to serve /embed")
        texts = list(texts)
        if normalize:
            return dense.encode_queries(texts) if kind == "query" else encode_passages(dense.encoder, texts,
                                                                                       dense.batch_size)
        encode = dense.encoder.encode_query if kind == "query" else dense.encoder.encode_document
        return np.ascontiguousarray(encode(texts, batch_size=dense.batch_size, normalize_embeddings=False),
                                    dtype=np.float32)

    # ------------------------------------------------------------------------------------------- health

    def health(self) -> dict[str, Any]:
        """The predecessor's ``status``/``model_loaded`` and what identifies the index and the model."""
        state = self.state
        a = state.answerer
        manifest = a.index.manifest
        model = manifest.model or ModelInfo()
        return {"status": "healthy", "model_loaded": a.index.dense is not None,
                "index": {"path": str(self.folder), "fingerprint": _corpus_sha(manifest), "passages": len(a.index.corpus),
                          "built_at": manifest.built_at, "updated_at": manifest.updated_at,
                          "dense": manifest.dense is not None, "bm25": manifest.bm25 is not None},
                "model": {"name": model.name, "fingerprint": model.fingerprint, "kind": model.kind, "dim": model.dim},
                "answerer": a.fingerprint, "retrieval": a.retriever.name, "llm": a.cfg.llm,
                "reloads": self.reloads, "loaded_at": state.opened_at}


def _corpus_sha(manifest: Manifest) -> str:
    return manifest.corpus.sha256 or manifest.corpus_sha256 or ""
