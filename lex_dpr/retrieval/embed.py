"""``lex-dpr embed``: the vectors of a JSONL's texts written to files, with their ids beside them.

The output layout is the predecessor's (zae-park/LexDPR ``embed``), so scripts that read it keep working::

    outdir/
      {prefix}.npz           ``ids`` (n,) str and ``embeddings`` (n, dim) float32     (--output-format npz|both)
      {prefix}_ids.npy       the ids, row i = vector i                                (--output-format npy|both)
      {prefix}_embeds.npy    float32 n x dim                                          (--output-format npy|both)
      {prefix}.json          what was embedded: input sha256, model and fingerprint, kind, counts (written last)

The ids are a fixed-width unicode array, so ``np.load(path)`` reads them without ``allow_pickle`` (the
predecessor's object arrays needed it; ``allow_pickle=True`` still works). Vectors come from the same encode
path as search: ``passage`` applies the model's document prompt as :func:`~lex_dpr.retrieval.dense.encode_passages`
does, ``query`` its query prompt as :meth:`~lex_dpr.retrieval.dense.DenseRetriever.encode_queries` does, both
L2-normalised unless ``normalize=False``.

**Streaming and resume.** Texts are encoded in shards of ``shard_size`` into ``outdir/.{prefix}.embed.staging/``
by the index builder's resumable encoder (:mod:`lex_dpr.retrieval.index.encode`): a kill (even SIGKILL) loses at most the
shard being encoded, and the same command run again encodes only the shards not yet finished. The output files
are assembled from the shards one at a time and renamed into place complete; the same inputs give the same bytes
(the ``.npz`` is written with fixed zip timestamps).

Example:
    >>> summary = embed_jsonl("merged_corpus.jsonl", "embeds", "passages", "out/shared/run_best")  # doctest: +SKIP
    >>> np.load("embeds/passages.npz")["embeddings"].shape  # doctest: +SKIP
    (15638, 768)
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lex_dpr.errors import ConfigError, InputError
from lex_dpr.utils.io import (BadLine, atomic_open, ensure_writable, folder_lock, iter_numbered_jsonl, sha256_file,
                              write_json)

log = logging.getLogger(__name__)


KINDS = ("passage", "query")
OUTPUT_FORMATS = ("npz", "npy", "both")
FORMAT = 1  # the summary file's layout version
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed entry timestamps: the same vectors give the same .npz bytes
_MAX_LOGGED = 20


@dataclass
class EmbedInput:
    """The rows to embed, in file order, and what was skipped."""

    ids: list[str]
    texts: list[str]
    skipped: int
    id_field: str
    text_field: str


def output_paths(outdir: str | Path, prefix: str, output_format: str) -> dict[str, Path]:
    """The files ``embed`` writes for ``output_format``, by role (``npz``, ``ids``, ``embeds``, ``summary``).

    Example:
        >>> sorted(p.name for p in output_paths("embeds", "passages", "both").values())
        ['passages.json', 'passages.npz', 'passages_embeds.npy', 'passages_ids.npy']
    """
    outdir = Path(outdir)
    paths = {}
    if output_format in ("npz", "both"):
        paths["npz"] = outdir / f"{prefix}.npz"
    if output_format in ("npy", "both"):
        paths["ids"] = outdir / f"{prefix}_ids.npy"
        paths["embeds"] = outdir / f"{prefix}_embeds.npy"
    paths["summary"] = outdir / f"{prefix}.json"
    return paths


def check_embed_options(input_path: str | Path, prefix: str, kind: str, output_format: str, batch_size: int = 64,
                        shard_size: int = 4096, limit: int | None = None, model: str | None = None) -> None:
    """Every problem with :func:`embed_jsonl`'s options in one :class:`ConfigError` (the CLI calls it before torch).

    Example:
        >>> check_embed_options("q.jsonl", "q", "queries", "csv")
        Traceback (most recent call last):
        lex_dpr.errors.ConfigError: --type 'queries' is not one of passage, query; --output-format 'csv' is not one of npz, npy, both
    """
    problems = []
    if kind not in KINDS:
        problems.append(f"--type {kind!r} is not one of {', '.join(KINDS)}")
    if output_format not in OUTPUT_FORMATS:
        problems.append(f"--output-format {output_format!r} is not one of {', '.join(OUTPUT_FORMATS)}")
    if not prefix or "/" in prefix or "\\" in prefix or prefix.startswith("."):
        problems.append(f"--prefix {prefix!r} must be a plain file name start (e.g. passages), not a path")
    for flag, value in (("--batch-size", batch_size), ("--shard-size", shard_size)):
        if value < 1:
            problems.append(f"{flag} {value!r} must be at least 1")
    if limit is not None and limit < 1:
        problems.append(f"--limit {limit!r} must be at least 1")
    from lex_dpr.retrieval.index.encode import looks_like_path

    if model is not None and looks_like_path(model) and not Path(model).expanduser().exists():
        problems.append(f"--model {model}: no such folder; pass a run folder (out/shared/run_best), a model folder, "
                        "an alias or a hub id")
    if problems:
        raise ConfigError("; ".join(problems))
    if not Path(input_path).is_file():
        what = "is a folder" if Path(input_path).is_dir() else "no such file"
        raise InputError(f"--input {input_path}: {what}; pass a JSONL of passages (merged_corpus.jsonl) or queries "
                         "(pairs_train_valid.jsonl)")


def read_embed_input(path: str | Path, kind: str = "passage", id_field: str | None = None,
                     text_field: str | None = None, limit: int | None = None) -> EmbedInput:
    """The (id, text) rows of a JSONL; a line without id or text, an empty text or a repeated id is skipped and counted.

    Field names default to ``id``/``text``; for ``kind="query"`` a file whose first record has ``query_text``
    (a pair file) defaults to ``query_id``/``query_text``. Ids may be strings or integers (kept as strings).

    Raises:
        InputError: the file cannot be read, or no row has an id and a text.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "q.jsonl"
        >>> _ = path.write_text('{"query_id": "Q1", "query_text": "불법행위"}\\n{"query_id": "Q2", "query_text": " "}\\n')
        >>> rows = read_embed_input(path, "query")
        >>> rows.ids, rows.skipped, rows.text_field
        (['Q1'], 1, 'query_text')
    """
    bad: list[BadLine] = []
    records = iter_numbered_jsonl(path, bad)
    ids: list[str] = []
    texts: list[str] = []
    first_line: dict[str, int] = {}
    for lineno, rec in records:
        if id_field is None or text_field is None:
            pair_file = kind == "query" and "query_text" in rec and "text" not in rec
            id_field = id_field or ("query_id" if pair_file else "id")
            text_field = text_field or ("query_text" if pair_file else "text")
        rid, text = rec.get(id_field), rec.get(text_field)
        if isinstance(rid, int) and not isinstance(rid, bool):
            rid = str(rid)
        if not rid or not isinstance(rid, str):
            reason = f"no {id_field!r}"
        elif not isinstance(text, str) or not text.strip():
            reason = f"{rid}: empty {text_field!r}"
        elif rid in first_line:
            reason = f"{rid}: duplicate id (first on line {first_line[rid]})"
        else:
            first_line[rid] = lineno
            ids.append(rid)
            texts.append(text)
            if limit is not None and len(ids) >= limit:
                break
            continue
        bad.append(BadLine(str(path), lineno, reason))
    for b in bad[:_MAX_LOGGED]:
        log.warning("skipped %s", b)
    if len(bad) > _MAX_LOGGED:
        log.warning("%s: %d more line(s) skipped", path, len(bad) - _MAX_LOGGED)
    if not ids:
        raise InputError(f"{path}: no rows with {id_field or 'id'!r} and {text_field or 'text'!r}; pass --id-field and "
                         "--text-field naming the file's fields")
    return EmbedInput(ids, texts, len(bad), id_field or "id", text_field or "text")


class _Side:
    """An encoder seen through ``encode_document`` (what the resumable shard encoder calls): the query or the
    passage side of the model, normalised or not."""

    def __init__(self, encoder, kind: str, normalize: bool) -> None:
        self.encoder, self.kind, self.normalize = encoder, kind, normalize

    def encode_document(self, texts: Sequence[str], batch_size: int = 64, **_: object) -> np.ndarray:
        encode = self.encoder.encode_query if self.kind == "query" else self.encoder.encode_document
        vectors = encode(list(texts), batch_size=batch_size, normalize_embeddings=self.normalize)
        return np.ascontiguousarray(vectors, dtype=np.float32)


def embed_jsonl(input_path: str | Path, outdir: str | Path, prefix: str, model: str, *, kind: str = "passage",
                output_format: str = "npz", batch_size: int = 64, shard_size: int = 4096,
                id_field: str | None = None, text_field: str | None = None, limit: int | None = None,
                normalize: bool = True, device: str | None = None, trust_remote_code: bool = False,
                show_progress: bool = False) -> dict:
    """Embed the texts of a JSONL with ``model`` and write them beside their ids; returns the summary written.

    Args:
        input_path: passage JSONL (``merged_corpus.jsonl``) or queries (a pair file, or any ``id``/``text`` JSONL).
        outdir: the output folder; prefix: the file names' start (``passages`` → ``passages.npz``).
        model: run folder, ``final/`` folder, ensemble, alias, hub id or path (as ``lex-dpr index build`` takes).
        kind: ``passage`` (document prompt) or ``query`` (query prompt).
        output_format: ``npz``, ``npy`` (``{prefix}_ids.npy`` + ``{prefix}_embeds.npy``) or ``both``.
        batch_size: texts per forward pass; shard_size: texts per resumable shard.
        id_field, text_field: the JSONL fields (see :func:`read_embed_input` for the defaults).
        limit: embed the first ``limit`` usable rows only.
        normalize: L2-normalise (as search does); False keeps the raw vectors.

    Raises:
        ConfigError: an unknown kind or format, sizes below 1.
        InputError: unreadable input, no usable row, a model that does not load, another embed writing there.
    """
    from lex_dpr.retrieval.index.encode import encode_resumable, load_with_fingerprint

    check_embed_options(input_path, prefix, kind, output_format, batch_size, shard_size, limit, str(model))
    outdir = Path(outdir)
    ensure_writable(outdir, folder=True, flag="--outdir")
    paths = output_paths(outdir, prefix, output_format)
    started = time.perf_counter()
    with folder_lock(outdir, f".{prefix}.embed.lock", "lex-dpr embed"):
        rows = read_embed_input(input_path, kind, id_field, text_field, limit)
        encoder, fingerprint = load_with_fingerprint(str(model), device, trust_remote_code)
        staging = outdir / f".{prefix}.embed.staging"
        key = {"input_sha256": sha256_file(input_path), "model_fingerprint": fingerprint, "kind": kind,
               "normalize": normalize, "ids_sha256": _ids_sha256(rows.ids)}
        shards, stats = encode_resumable(_Side(encoder, kind, normalize), rows.texts, staging, key, shard_size,
                                         batch_size, show_progress)
        dim = int(np.load(shards[0], mmap_mode="r", allow_pickle=False).shape[1])
        ids = np.array(rows.ids, dtype=f"<U{max(1, max(map(len, rows.ids)))}")
        if "npz" in paths:
            _write_npz(paths["npz"], ids, shards, dim)
        if "ids" in paths:
            with atomic_open(paths["ids"]) as fh:
                np.lib.format.write_array(fh, ids, allow_pickle=False)
            with atomic_open(paths["embeds"]) as fh:
                _write_rows(fh, shards, len(ids), dim)
        summary = {"format": FORMAT, "input": str(input_path), "input_sha256": key["input_sha256"],
                   "id_field": rows.id_field, "text_field": rows.text_field, "kind": kind, "model": str(model),
                   "model_fingerprint": fingerprint, "prompt": _prompt(encoder, kind), "normalized": normalize,
                   "rows": len(ids), "dim": dim, "dtype": "float32", "skipped_lines": rows.skipped, "limit": limit,
                   "files": {role: p.name for role, p in paths.items() if role != "summary"},
                   "shard_size": shard_size, "shards": stats["shards"]}
        write_json(paths["summary"], summary)  # the same inputs give the same bytes, resumed or not
        shutil.rmtree(staging, ignore_errors=True)
    return {**summary, "reused_shards": stats["reused_shards"], "encoded": stats["encoded"],
            "seconds": round(time.perf_counter() - started, 3), "paths": {role: str(p) for role, p in paths.items()}}


def load_embeddings(outdir: str | Path, prefix: str) -> tuple[list[str], np.ndarray]:
    """The ids and vectors ``embed`` wrote (``.npz`` when there is one, else the two ``.npy`` files).

    Raises:
        InputError: no embedding files with that prefix, or ids and vectors of different lengths.
    """
    paths = output_paths(outdir, prefix, "both")
    if paths["npz"].is_file():
        with np.load(paths["npz"], allow_pickle=False) as data:
            ids, vectors = data["ids"], data["embeddings"]
    elif paths["ids"].is_file() and paths["embeds"].is_file():
        ids = np.load(paths["ids"], allow_pickle=False)
        vectors = np.load(paths["embeds"], allow_pickle=False)
    else:
        raise InputError(f"{outdir}: no {prefix}.npz or {prefix}_ids.npy/{prefix}_embeds.npy; write them with "
                         f"`lex-dpr embed --outdir {outdir} --prefix {prefix} ...`")
    if len(ids) != len(vectors):
        raise InputError(f"{outdir}: {len(ids)} ids but {len(vectors)} vectors for prefix {prefix!r}; embed again")
    return [str(i) for i in ids], vectors


def _ids_sha256(ids: list[str]) -> str:
    h = hashlib.sha256()
    for i in ids:
        h.update(i.encode("utf-8") + b"\n")
    return h.hexdigest()


def _prompt(encoder, kind: str) -> str | None:
    first = getattr(encoder, "members", [encoder])[0]
    prompts = dict(getattr(first, "prompts", None) or {})
    return prompts.get("query" if kind == "query" else "document") or None


def _shard_arrays(shards: list[Path]) -> Iterator[np.ndarray]:
    for path in shards:
        yield np.load(path, allow_pickle=False)


def _write_rows(fh, shards: list[Path], n: int, dim: int) -> None:
    """An ``.npy`` of the shards' rows, written shard by shard (never the whole matrix in memory)."""
    np.lib.format.write_array_header_1_0(fh, {"descr": np.lib.format.dtype_to_descr(np.dtype("<f4")),
                                              "fortran_order": False, "shape": (n, dim)})
    written = 0
    for part in _shard_arrays(shards):
        fh.write(np.ascontiguousarray(part, dtype="<f4").tobytes())
        written += len(part)
    if written != n:
        raise InputError(f"the shards hold {written} rows, expected {n}; rerun the same command (it re-encodes them)")


def _write_npz(path: Path, ids: np.ndarray, shards: list[Path], dim: int) -> None:
    """``np.savez``'s layout (uncompressed entries ``ids.npy``, ``embeddings.npy``) with fixed timestamps."""
    with atomic_open(path) as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        info = zipfile.ZipInfo("ids.npy", date_time=_ZIP_TIME)
        with zf.open(info, "w", force_zip64=True) as entry:
            np.lib.format.write_array(entry, ids, allow_pickle=False)
        info = zipfile.ZipInfo("embeddings.npy", date_time=_ZIP_TIME)
        with zf.open(info, "w", force_zip64=True) as entry:
            _write_rows(entry, shards, len(ids), dim)
