"""The on-disk retrieval index: ``lex-dpr index build|update`` write it, ``lex-dpr rag`` opens it.

An index folder is self-contained and movable (every path in the manifest is relative to it); its layout is
in :mod:`~lex_dpr.retrieval.index.layout`. One behaviour, one module:

- :mod:`~lex_dpr.retrieval.index.layout`: file names, hidden siblings, the lock and the folder swap
- :mod:`~lex_dpr.retrieval.index.manifest`: :class:`Manifest`, typed, reading every manifest written so far
- :mod:`~lex_dpr.retrieval.index.digests`: per-file size, sampled and full sha256; ``index info --verify``
- :mod:`~lex_dpr.retrieval.index.passages`: the passage file and the hashes ``update`` matches by
- :mod:`~lex_dpr.retrieval.index.encode`: the model (fingerprint-checked) and resumable shard encoding
- :mod:`~lex_dpr.retrieval.index.assemble`: writing the new folder (FAISS, BM25, morphemes, digests)
- :mod:`~lex_dpr.retrieval.index.build`, :mod:`~lex_dpr.retrieval.index.update`,
  :mod:`~lex_dpr.retrieval.index.loaded`: the three things one does with an index

A crash never leaves a half index that opens: ``index/`` is the old index or the new
(:func:`lex_dpr.utils.folders.commit_folder`).

Example:
    >>> build_index("merged_corpus.jsonl", "index", model="out/sample/run")  # doctest: +SKIP
    >>> idx = open_index("index")  # doctest: +SKIP
    >>> idx.manifest.model.fingerprint[:12], idx.manifest.passages  # doctest: +SKIP
    >>> idx.bm25.rank(["불법행위 손해배상"], k=3)  # doctest: +SKIP
"""

from lex_dpr.retrieval.index.build import build_index, check_build_options
from lex_dpr.retrieval.index.digests import verify_index
from lex_dpr.retrieval.index.encode import check_device
from lex_dpr.retrieval.index.layout import MANIFEST
from lex_dpr.retrieval.index.manifest import Manifest, read_manifest
from lex_dpr.retrieval.index.loaded import LoadedIndex, open_index
from lex_dpr.retrieval.index.update import update_index

__all__ = ["MANIFEST", "LoadedIndex", "Manifest", "build_index", "check_build_options", "check_device",
           "open_index", "read_manifest", "update_index", "verify_index"]
