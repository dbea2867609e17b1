"""Opening an index for retrieval: :func:`open_index` checks the folder against its manifest and loads it.

Opening checks every file's size and sampled sha256 (see :mod:`~lex_dpr.retrieval.index.digests`), the
passage count, and the model's fingerprint: an index is opened only whole, and only with the model it was
built with.

Example:
    >>> idx = open_index("index")  # doctest: +SKIP
    >>> idx.bm25.rank(["불법행위 손해배상"], k=3)  # doctest: +SKIP
    >>> idx.dense.rank(["불법행위 손해배상"], k=3)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from lex_dpr.data.corpus import Corpus, read_corpus
from lex_dpr.errors import InputError
from lex_dpr.retrieval.bm25 import BM25Index, BM25Retriever
from lex_dpr.retrieval.dense import DenseIndex, DenseRetriever
from lex_dpr.retrieval.index.digests import check_files
from lex_dpr.retrieval.index.encode import check_device, encoder_for
from lex_dpr.retrieval.index.layout import BM25_DIR, DENSE, EMBEDDINGS, PASSAGES
from lex_dpr.retrieval.index.manifest import Manifest, read_manifest, tokenizer_settings

log = logging.getLogger(__name__)


@dataclass
class LoadedIndex:
    """An opened index: the passages (for citing) and the retrievers over them.

    ``dense.encode_queries(list[str])`` embeds questions with the index's model (its query prompt applied);
    ``bm25.rank``/``dense.rank`` return (passage id, score) lists, best first.
    """

    folder: Path
    manifest: Manifest
    corpus: Corpus
    bm25: BM25Retriever | None
    dense: DenseRetriever | None


def open_index(index_dir: str | Path, model: str | None = None, device: str | None = None,
               trust_remote_code: bool = False, *, dense: bool = True, bm25: bool = True) -> LoadedIndex:
    """Open an index for retrieval: passages, BM25 (memory-mapped) and the dense index with its encoder.

    Args:
        index_dir: the folder ``build_index`` wrote.
        model: the encoder for queries; None loads the one the index was built with. Either way its
            fingerprint must equal the manifest's.
        device: where the encoder runs (None: the best available).
        dense, bm25: False skips loading that part (``LoadedIndex.dense``/``bm25`` is then None).

    Raises:
        InputError: not an index, a file missing or cut, or a model other than the one it was built with.
    """
    check_device(device)
    folder = Path(index_dir)
    manifest = read_manifest(folder)
    check_files(folder, manifest)
    corpus = read_corpus(folder / PASSAGES)
    if len(corpus) != manifest.passages:
        raise InputError(f"{folder / PASSAGES}: {len(corpus)} passages, the manifest says {manifest.passages}; "
                         "build the index again")
    bm25_retriever = dense_retriever = None
    if bm25 and manifest.bm25:
        now = tokenizer_settings()
        built_key = (manifest.tokenizer or {}).get("settings_key")
        if built_key != now["settings_key"]:
            log.warning("%s: built with other Kiwi settings (%s) than this install's (%s): questions are tokenised "
                        "differently from the passages; run `lex-dpr index update %s --passages %s` to re-tokenise",
                        folder, built_key, now["settings_key"], folder, folder / PASSAGES)
        bm25_retriever = BM25Retriever(corpus, index=BM25Index.load(folder / BM25_DIR, mmap=True))
    if dense and manifest.dense:
        encoder, _ = encoder_for(folder, manifest, model, device, trust_remote_code)
        info = manifest.dense
        index = DenseIndex.load(folder / DENSE, info.kind, info.params)
        if info.kind in ("flat", "ivfpq"):
            # flat: numpy multiplies by these (aligned; FAISS's file holds the same floats at an odd offset, where
            # BLAS runs at a third of its speed); ivfpq: its codes are approximate, the top candidates are rescored
            import numpy as np

            # a plain ndarray view of the mapped pages: np.memmap's bookkeeping on every slice cost 0.03 ms a question
            index.vectors = np.asarray(np.load(folder / EMBEDDINGS, mmap_mode="r", allow_pickle=False))
            if index.vectors.shape != (index.size, index.faiss_index.d):
                raise InputError(f"{folder / EMBEDDINGS}: vectors of shape {index.vectors.shape}, {DENSE} holds "
                                 f"{index.size} × {index.faiss_index.d}; build the index again")
        dense_retriever = DenseRetriever("dense", encoder, corpus, index=index)
    return LoadedIndex(folder, manifest, corpus, bm25_retriever, dense_retriever)
