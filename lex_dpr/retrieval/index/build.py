"""``lex-dpr index build``: a new index folder from a passage JSONL.

``--model`` (a run folder, ``final/``, an ensemble, an alias, a hub id or a path) is required for the dense
part; ``dense=False`` builds BM25 only, ``bm25=False`` dense only, not both. Work happens beside the index
(see :mod:`~lex_dpr.retrieval.index.layout`): encoding shards in ``.index.staging/`` (kept across
interruptions, so the same command resumes), the new folder in ``.index.tmp/``, which replaces ``index/``
only when complete. Kiwi morphemes come from the index being replaced when there is one (same settings
only), else from Kiwi. ``build`` starts from nothing: files other tools keep in the folder are not carried
over (``update`` keeps them), and it says so.

Example:
    >>> build_index("merged_corpus.jsonl", "index", model="out/sample/run")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from lex_dpr.errors import ConfigError
from lex_dpr.retrieval.bm25 import SEARCH_FIELDS
from lex_dpr.retrieval.dense import FAISS_KINDS
from lex_dpr.retrieval.index.assemble import assemble, timer, tokens_for_update
from lex_dpr.retrieval.index.encode import (check_device, encode_resumable, load_with_fingerprint, looks_like_path,
                                            model_section)
from lex_dpr.retrieval.index.layout import check_out, commit, extra_entries, locked, staging_dir
from lex_dpr.retrieval.index.manifest import Manifest
from lex_dpr.retrieval.index.passages import read_passages

MORPHEMES_DIR = "morphemes"  # in the staging folder: the passages' Kiwi morphemes when no make-pairs cache lends them

log = logging.getLogger(__name__)


def build_index(passages: str | Path, out: str | Path, model: str | None = None, *, faiss_kind: str = "flat",
                dense: bool = True, bm25: bool = True, batch_size: int = 128, shard_size: int = 4096,
                device: str | None = None, trust_remote_code: bool = False, show_progress: bool = False,
                hnsw_m: int = 32, ivf_lists: int | None = None, token_cache: str | Path | None = "auto",
                workers: int = 1, pq_m: int | None = None) -> Manifest:
    """Build an index folder from a passage JSONL; returns the manifest.

    Args:
        passages: passage JSONL (``merged_corpus.jsonl``); lines without id or text are skipped and counted.
        out: the index folder; an existing index there is replaced (only once the new one is complete).
        model: run folder, model folder, alias or hub id for the dense part.
        faiss_kind: ``flat`` (exact; right up to about a million passages), ``hnsw``, ``ivf``, or ``ivfpq`` (product-
            quantised lists, 1/32 of the memory, the top candidates rescored exactly from the embeddings).
        dense, bm25: which parts to build (at least one).
        batch_size: passages per forward pass; shard_size: passages per resumable encoding shard.
        hnsw_m, ivf_lists, pq_m: FAISS options (``ivf_lists`` None: 4·√n, at most n/39; ``pq_m`` None: d/8).
        workers: processes that encode the shards (each loads the model; the index is the same as with one),
            and Kiwi's threads.
        token_cache: a Kiwi cache to borrow the passages' morphemes from (read only): ``"auto"`` is the one
            ``make-pairs`` keeps beside the passages file (``.lexdpr_cache``) when there is one; None: none.

    Raises:
        ConfigError: no ``model`` for the dense part, both parts off, an unknown FAISS kind, sizes below 1.
        InputError: unreadable passages, a model that does not load, ``out`` is something else than an index.
    """
    check_build_options(model, dense, bm25, faiss_kind, batch_size, shard_size, hnsw_m, ivf_lists, pq_m)
    check_device(device)
    out = Path(out)
    check_out(out)
    if out.is_dir() and (dropped := [p.name for p in extra_entries(out)]):
        log.warning("%s: rebuilt from scratch, so %s (written by other tools, e.g. `lex-dpr rag tune`) will not be "
                    "kept; `lex-dpr index update` keeps them", out, ", ".join(dropped))
    started = time.perf_counter()
    with locked(out, "lex-dpr index build"):
        seconds: dict[str, float] = {}
        with timer(seconds, "read"):
            source = read_passages(passages)
        if dense:
            check_ivf_lists(faiss_kind, ivf_lists, len(source.ids))
            check_pq_size(faiss_kind, len(source.ids))
        staging = staging_dir(out)
        stats: dict = {}
        lent = lent_cache(passages, token_cache)  # read once: the model's morphemes and BM25's come from it
        model_info = dense_info = embeddings = None
        if dense:
            assert model is not None
            with timer(seconds, "model_load"):
                encoder, fp = load_with_fingerprint(model, device, trust_remote_code)
            check_pq_dims(faiss_kind, pq_m, encoder)
            if lent is None and bm25 and _reads_morphemes(encoder):
                with timer(seconds, "morphemes"):
                    lent = _morphemes_once(staging, source.texts, workers, show_progress)
            _lend_morphemes(encoder, source.texts, lent)
            with timer(seconds, "encode"):
                shards, stats = encode_resumable(encoder, source.texts, staging, {
                    "corpus_sha256": source.sha256, "model_fingerprint": fp}, shard_size, batch_size, show_progress,
                    workers, (model, device, trust_remote_code))
            _forget_morphemes(encoder)  # the passages' morpheme strings, held for the encoder: not needed after
            model_info = model_section(model, fp, encoder, out)
            del encoder  # nor its weights, while the index is assembled
            dense_info = {"kind": faiss_kind, "options": {"hnsw_m": hnsw_m, "ivf_lists": ivf_lists, "pq_m": pq_m}}
            embeddings = _ShardRows(shards)
        tokens = None
        if bm25:
            with timer(seconds, "tokenize"):  # an index being rebuilt lends its morphemes (same Kiwi settings only)
                tokens, stats["tokenized"] = tokens_for_update(out, staging, source.for_bm25(SEARCH_FIELDS),
                                                               show_progress, source.bm25_parts(SEARCH_FIELDS),
                                                               lent, workers)
        lent = None  # make-pairs' cache (its queries' morphemes too) is not needed past here
        manifest = assemble(out, source, tokens, embeddings, model_info, dense_info, seconds, SEARCH_FIELDS)
        assert manifest.build is not None
        manifest.build.update({**stats, "shard_size": shard_size, "batch_size": batch_size,
                               "seconds_total": round(time.perf_counter() - started, 3)})
        manifest.built_at = manifest.build["at"]
        commit(out, manifest.to_dict())
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _lend_morphemes(encoder, texts: list[str], cache) -> None:
    """A static model that reads morphemes gets the passages' morphemes from make-pairs' Kiwi cache (the same
    settings key, so the same tokens): Kiwi runs only for the texts the cache lacks."""
    from lex_dpr.models.morphemes import morpheme_tokenizer

    tokenizer = morpheme_tokenizer(encoder)
    if tokenizer is None or cache is None:
        return
    taken = tokenizer.prime(texts, cache.get_many(texts))
    log.info("the model reads morphemes: %d of %d passages' from %s", taken, len(texts), cache.path)


def _reads_morphemes(encoder) -> bool:
    from lex_dpr.models.morphemes import morpheme_tokenizer

    return morpheme_tokenizer(encoder) is not None


def _morphemes_once(staging: Path, texts: list[str], workers: int, show_progress: bool):
    """Without make-pairs' cache, a model that reads morphemes and BM25 would each run Kiwi over every passage (the
    encoding workers for theirs, then this process for BM25's: the growth bench's 1M corpus went through Kiwi
    twice). The passages go through Kiwi once here, into a cache in the staging folder (a rerun after a kill
    reads what it holds), lent to both as make-pairs' would be."""
    from lex_dpr.data.tokenize import tokenize_many
    from lex_dpr.retrieval.token_cache import TokenCache

    cache = TokenCache(staging / MORPHEMES_DIR)
    tokenize_many(texts, workers=workers, cache=cache, show_progress=show_progress)
    return cache


def _forget_morphemes(encoder) -> None:
    from lex_dpr.models.morphemes import morpheme_tokenizer

    tokenizer = morpheme_tokenizer(encoder)
    if tokenizer is not None:
        tokenizer.forget()


def lent_cache(passages: str | Path, spec: str | Path | None):
    """The Kiwi cache ``build_index(token_cache=spec)`` borrows from, or None (``"auto"`` without one)."""
    from lex_dpr.retrieval.token_cache import CACHE_DIR, TokenCache

    if spec is None or str(spec).lower() in ("", "none", "null"):
        return None
    folder = Path(passages).parent / CACHE_DIR if str(spec) == "auto" else Path(spec)
    if not folder.is_dir():
        if str(spec) != "auto":
            log.warning("--token-cache %s: no such folder; the passages go through Kiwi", folder)
        return None
    return TokenCache(folder)


def check_build_options(model: str | None, dense: bool, bm25: bool, faiss_kind: str, batch_size: int, shard_size: int,
                        hnsw_m: int = 32, ivf_lists: int | None = None, pq_m: int | None = None) -> None:
    """Every problem with :func:`build_index`'s options in one :class:`ConfigError` (the CLI calls it before torch).

    Example:
        >>> check_build_options(None, True, True, "annoy", 128, 4096)
        Traceback (most recent call last):
        lex_dpr.errors.ConfigError: the dense part needs a model: pass --model (a run folder such as out/shared/run, an alias or a hub id), or --no-dense for a BM25-only index; --faiss 'annoy' is not one of flat, hnsw, ivf, ivfpq
    """
    problems = []
    if not dense and not bm25:
        problems.append("--no-dense and --no-bm25 together leave nothing to build; drop one of them")
    if dense and not model:
        problems.append("the dense part needs a model: pass --model (a run folder such as out/shared/run, an alias "
                        "or a hub id), or --no-dense for a BM25-only index")
    elif dense and looks_like_path(model) and not Path(model).expanduser().exists():
        problems.append(f"--model {model}: no such folder; pass a run folder (out/shared/run), a model folder, an "
                        "alias or a hub id")
    if faiss_kind not in FAISS_KINDS:
        problems.append(f"--faiss {faiss_kind!r} is not one of {', '.join(FAISS_KINDS)}")
    for flag, value in (("--batch-size", batch_size), ("--shard-size", shard_size), ("--hnsw-m", hnsw_m)):
        if value < 1:
            problems.append(f"{flag} {value!r} must be at least 1")
    if ivf_lists is not None and ivf_lists < 1:
        problems.append(f"--ivf-lists {ivf_lists!r} must be at least 1")
    if pq_m is not None and pq_m < 1:
        problems.append(f"--pq-m {pq_m!r} must be at least 1")
    if problems:
        raise ConfigError("; ".join(problems))


def check_pq_size(kind: str, passages: int) -> None:
    """An IVF-PQ index needs enough passages to train its quantiser: checked before any encoding."""
    from lex_dpr.retrieval.dense import PQ_TRAIN_MIN, check_pq

    if kind == "ivfpq" and passages < PQ_TRAIN_MIN:
        raise ConfigError(check_pq(1, 1, passages) or "")


def check_pq_dims(kind: str, pq_m: int | None, encoder) -> None:
    """``--pq-m`` must divide the model's dimension: checked once the model is loaded, before encoding."""
    from lex_dpr.retrieval.dense import check_pq

    dim = getattr(encoder, "get_sentence_embedding_dimension", lambda: None)()
    if kind == "ivfpq" and pq_m is not None and dim and dim % pq_m:
        raise ConfigError(check_pq(pq_m, dim, 10**9) or "")


def check_ivf_lists(kind: str, lists: int | None, passages: int, auto: str = "leave it out") -> None:
    """FAISS trains IVF lists on the passages: more lists than passages would fail after all the encoding.
    ``auto``: how the command asks for the automatic count."""
    if kind == "ivf" and lists is not None and lists > passages:
        raise ConfigError(f"--ivf-lists {lists} is more than the {passages} passages (FAISS trains each list on "
                          f"passages, 39 or more each for good lists): use --ivf-lists {max(1, passages // 39)}, "
                          f"{auto} (4·√n, at most n/39), or use --faiss flat")



class _ShardRows:
    """The encoded shards as one row sequence (read shard by shard when written out)."""

    def __init__(self, shards: list[Path]) -> None:
        self.shards = shards

    def arrays(self) -> Iterator[np.ndarray]:
        for path in self.shards:
            yield np.load(path, allow_pickle=False)
