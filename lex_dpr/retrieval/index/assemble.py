"""Writing a new index into ``.index.tmp``: passages, hashes, embeddings, FAISS, BM25 and morphemes, with digests.

``build`` and ``update`` both end here; :func:`~lex_dpr.retrieval.index.layout.commit` then writes the
manifest and swaps the folder into place.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from lex_dpr.retrieval.bm25 import BM25Index
from lex_dpr.retrieval.dense import DenseIndex, write_flat
from lex_dpr.retrieval.index.digests import file_entry, folder_entry
from lex_dpr.retrieval.index.layout import (BM25_DIR, DENSE, EMBEDDINGS, FORMAT, HASHES, PASSAGES, TOKENS_DIR,
                                            clear_leftover, tmp_dir)
from lex_dpr.retrieval.index.manifest import Manifest, now, package_version, tokenizer_settings
from lex_dpr.retrieval.index.passages import Passages
from lex_dpr.retrieval.token_cache import TokenCache
from lex_dpr.data.tokenize import tokenize_many
from lex_dpr.utils.io import atomic_open, dumps, write_jsonl

BM25_PARAMS = {"k1": 1.5, "b": 0.75, "method": "lucene"}  # BM25Index's defaults, recorded in the manifest


def assemble(out: Path, source: Passages, tokens: list[list[str]] | None, embeddings, model_info: dict | None,
             dense_info: dict | None, seconds: dict[str, float], search_fields: Sequence[str] = ()) -> Manifest:
    """Write the new index into ``.{out}.tmp`` (not yet in place); returns its manifest."""
    tmp = tmp_dir(out)
    clear_leftover(tmp)
    tmp.mkdir(parents=True)
    with timer(seconds, "write_passages"):
        write_jsonl(tmp / PASSAGES, source.records)
        with atomic_open(tmp / HASHES) as fh:
            for row in zip(source.ids, source.hashes, source.record_hashes, strict=True):
                fh.write(dumps(list(row)))
    files = {"passages": file_entry(tmp, PASSAGES), "hashes": file_entry(tmp, HASHES)}
    dense_manifest = None
    if embeddings is not None:
        assert dense_info is not None and model_info is not None
        with timer(seconds, "write_embeddings"):
            matrix = write_embeddings(tmp / EMBEDDINGS, embeddings, len(source.ids))
        with timer(seconds, "faiss"):
            dense_manifest = write_faiss(matrix, dense_info, tmp / DENSE)
        del matrix
        model_info = {**model_info, "dim": dense_manifest["dim"]}
        files["embeddings"] = file_entry(tmp, EMBEDDINGS)
        files["dense"] = file_entry(tmp, DENSE)
    bm25_manifest = tokenizer = None
    if tokens is not None:
        with timer(seconds, "bm25"):
            index = BM25Index(tokens, k1=BM25_PARAMS["k1"], b=BM25_PARAMS["b"], method=BM25_PARAMS["method"])
            index.save(tmp / BM25_DIR)
        with timer(seconds, "write_tokens"):
            TokenCache(tmp / TOKENS_DIR).add(source.search_texts or source.texts, tokens)
        bm25_manifest = {"library": "bm25s", "version": package_version("bm25s"), **BM25_PARAMS, "fields": list(search_fields),
                         "vocabulary": len(index._bm25.vocab_dict), "mmap": True}
        tokenizer = tokenizer_settings()
        files["bm25"] = folder_entry(tmp, BM25_DIR)
        files["tokens"] = folder_entry(tmp, TOKENS_DIR)
    from lex_dpr import __version__

    return Manifest.from_dict({
        "format": FORMAT,
        "lex_dpr_version": __version__,
        "built_at": None,
        "updated_at": None,
        "passages": len(source.ids),
        "corpus_sha256": source.sha256,
        "corpus": {"source": source.path, "sha256": source.sha256, "skipped_lines": source.skipped},
        "model": model_info,
        "dense": dense_manifest,
        "bm25": bm25_manifest,
        "tokenizer": tokenizer,
        "files": files,
        "build": {"at": now(), "seconds": dict(seconds)},
        "updates": [],
    })


def write_faiss(matrix: np.ndarray, dense_info: dict, path: Path) -> dict:
    """Build the FAISS index of ``dense_info`` (kind, options) over ``matrix`` into ``path``; its manifest section."""
    options = dense_info["options"]
    if dense_info["kind"] == "flat":  # straight from the memory-mapped rows: no second copy in memory
        index = write_flat(matrix, path)
    else:
        index = DenseIndex.build(matrix, dense_info["kind"], hnsw_m=options["hnsw_m"],
                                 ivf_lists=options["ivf_lists"], pq_m=options.get("pq_m"))
        index.save(path)
    dim = int(index.faiss_index.d)
    return {"kind": index.kind, "params": index.params, "options": options, "dim": dim,
            "metric": "inner_product", "normalized": True, "dtype": "float32"}


def write_embeddings(path: Path, embeddings, n: int) -> np.ndarray:
    """Write the n x dim matrix to ``path`` (row by row from ``embeddings.arrays()``); returns it memory-mapped."""
    arrays = embeddings.arrays()
    first = next(arrays)
    matrix = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, first.shape[1]))
    row = 0
    for part in (first, *arrays):
        matrix[row: row + len(part)] = part
        row += len(part)
    if row != n:
        raise AssertionError(f"{row} embedding rows for {n} passages")
    matrix.flush()
    del matrix
    return np.load(path, mmap_mode="r")



@contextlib.contextmanager
def timer(seconds: dict[str, float], name: str) -> Iterator[None]:
    """Add the seconds the block takes to ``seconds[name]`` (the manifest's timings)."""
    start = time.perf_counter()
    yield
    seconds[name] = round(seconds.get(name, 0.0) + time.perf_counter() - start, 3)



def tokens_for_update(out: Path, staging: Path, texts: list[str], show_progress: bool,
                      parts: Sequence[tuple[str, str]] | None = None,
                      lend: TokenCache | None = None, workers: int = 0) -> tuple[list[list[str]], int]:
    """Morphemes of ``texts``: the index's own for texts it has, Kiwi (resumable, in staging) for the others.

    ``parts`` (each text's heading line and body, ``text == head + "\\n" + body`` or the body alone when the head
    is empty) and ``lend`` (another Kiwi cache, such as the one ``make-pairs`` keeps beside its pairs) let a
    body that cache holds skip Kiwi: Kiwi tokenises a text line by line, so a text's morphemes are its head's
    then its body's (``tests/retrieval/test_index_tokens.py`` checks it on the sample corpus). Heads repeat
    (law name, chapter, section): each is read from ``lend`` (``make-pairs`` puts its pool's there) or
    tokenised once.

    ``workers``: Kiwi's threads (0: every core). Returns them with the number of texts that went through Kiwi (or
    the staging cache of an interrupted run).
    """
    have = TokenCache(out / TOKENS_DIR).get_many(texts)
    if lend is not None and parts is not None:
        todo = [i for i, r in enumerate(have) if r is None]
        bodies = lend.get_many([parts[i][1] for i in todo])
        lent = [(i, body) for i, body in zip(todo, bodies, strict=True) if body is not None]
        heads = sorted({parts[i][0] for i, _ in lent if parts[i][0]})
        head_tokens = dict(zip(heads, lend.get_many(heads), strict=True))  # make-pairs caches them too
        unknown = [h for h in heads if head_tokens[h] is None]
        head_tokens.update(zip(unknown, tokenize_many(unknown, workers=workers), strict=True))
        for i, body in lent:
            have[i] = [*head_tokens.get(parts[i][0], []), *body]
    missing = [t for t, r in zip(texts, have, strict=True) if r is None]
    fresh = iter(tokenize_many(missing, workers=workers, cache=TokenCache(staging / TOKENS_DIR),
                               show_progress=show_progress))
    return [r if r is not None else next(fresh) for r in have], len(missing)

