"""``lex-dpr index update``: an index brought up to date with a new passage file, and the diff it is based on.

Passages are matched by id and the sha256 of their text: unchanged ones keep their vector and their
morphemes, changed and added ones are encoded (resumable, as a build is) and tokenised, removed ones are
dropped, and FAISS and BM25 are rebuilt in the new file's order, with the FAISS kind and options of the build.
The result equals a fresh build on the new file (tests/retrieval/test_index_folder.py checks ids, vectors,
rankings and BM25 results). The manifest gets the new corpus sha256 and an ``updates`` entry with the counts
and the changed ids (at most :data:`MAX_LISTED_IDS` of each kind). Files other tools keep in the folder
(``rag tune``'s ``retrieval.json``) are carried over. The same passages in the same order (a new file name,
say) change the manifest only; nothing to encode loads no model.

Example:
    >>> update_index("index", "new_corpus.jsonl")["changed"]  # doctest: +SKIP
    3
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson

from lex_dpr.errors import ConfigError, InputError
from lex_dpr.retrieval.index.assemble import assemble, timer, tokens_for_update
from lex_dpr.retrieval.index.build import check_build_options, check_ivf_lists, check_pq_size
from lex_dpr.retrieval.index.digests import check_files
from lex_dpr.retrieval.index.encode import check_device, check_model, encode_resumable, encoder_for, model_paths
from lex_dpr.retrieval.index.layout import (EMBEDDINGS, HASHES, MANIFEST, check_replaceable, clear_leftover, commit,
                                            extra_entries, locked, staging_dir, tmp_dir)
from lex_dpr.retrieval.index.manifest import CorpusInfo, now, read_manifest, tokenizer_settings
from lex_dpr.retrieval.index.passages import Passages, read_passages, records_sha256
from lex_dpr.utils.io import write_json

log = logging.getLogger(__name__)

MAX_LISTED_IDS = 100  # changed/added/removed ids kept per update entry
KEEP_IDS_IN_UPDATES = 20  # older ``updates`` entries keep their counts and drop their id lists


def update_index(index_dir: str | Path, passages: str | Path, *, batch_size: int = 128, device: str | None = None,
                 show_progress: bool = False, model: str | None = None, trust_remote_code: bool = False,
                 shard_size: int = 4096, faiss_kind: str | None = None, hnsw_m: int | None = None,
                 ivf_lists: int | None = None, pq_m: int | None = None) -> dict:
    """Bring an index up to date with a new passage file; returns the change summary.

    Passages whose id and text hash are unchanged keep their vector and morphemes; changed and added ones
    are encoded and tokenised; removed ones are dropped; FAISS and BM25 are rebuilt in the new file's order.

    Args:
        model: the index's model at another path (moved); its fingerprint must equal the manifest's.
        faiss_kind, hnsw_m, ivf_lists, pq_m: another FAISS kind or options than the build's (``None``: the
            build's), built from the vectors the index has: a flat index grown past a million passages becomes
            ``ivf`` or ``ivfpq`` without encoding a passage again (the same passages file then only rebuilds it).

    Returns:
        ``{"added", "changed", "removed", "unchanged", "metadata_changed", "reordered", "encoded",
        "tokenized", "passages", "previous_corpus_sha256", "corpus_sha256", "seconds", "ids": {...}}``.

    Raises:
        InputError: not an index, unreadable passages, the model changed since the build.
    """
    if batch_size < 1 or shard_size < 1:
        raise ConfigError(f"--batch-size {batch_size!r} and --shard-size {shard_size!r} must be at least 1")
    if ivf_lists is not None and ivf_lists < 0:
        raise ConfigError(f"--ivf-lists {ivf_lists!r} must be at least 0 (0: the automatic count, 4·√n)")
    if faiss_kind is not None or hnsw_m is not None or ivf_lists or pq_m is not None:
        check_build_options("index", True, True, faiss_kind or "flat", batch_size, shard_size,
                            hnsw_m if hnsw_m is not None else 32, ivf_lists or None, pq_m)
    check_device(device)
    out = Path(index_dir)
    started = time.perf_counter()
    check_replaceable(out, "update")
    with locked(out, "lex-dpr index update"):
        manifest = read_manifest(out)
        dense_info = _dense_info(manifest, faiss_kind, hnsw_m, ivf_lists, pq_m)  # refused before anything is read
        new_faiss = manifest.dense is not None and dense_info != _dense_info(manifest, None, None, None, None)
        check_files(out, manifest, full=True)  # its vectors and morphemes are carried into the new index
        if model is not None and manifest.dense:
            check_model(out, manifest, model)  # refused the same whether or not anything needs encoding
        seconds: dict[str, float] = {}
        same_tokens = not manifest.bm25 or (manifest.tokenizer or {}).get(
            "settings_key") == tokenizer_settings()["settings_key"]
        if new_faiss and same_tokens and _same_file(passages, manifest):
            # the very file the index was built or last updated from: its passages are the index's, unread
            _check_sizes(dense_info, manifest.passages)
            with timer(seconds, "faiss"):
                new = _refaiss(out, manifest, dense_info)
            summary = {"added": 0, "changed": 0, "removed": 0, "unchanged": manifest.passages, "metadata_changed": 0,
                       "reordered": False, "ids": {"added": [], "changed": [], "removed": []}, "ids_truncated": False,
                       "passages": manifest.passages, "previous_corpus_sha256": manifest.corpus.sha256,
                       "corpus_sha256": manifest.corpus.sha256, "encoded": 0, "tokenized": 0,
                       "seconds": round(time.perf_counter() - started, 3)}
            new.corpus.source = str(passages)
            return _finish(out, manifest, new, summary, seconds, dense_info)
        with timer(seconds, "read"):
            source = read_passages(passages)
            old_rows = _read_hashes(out / HASHES)
        diff = diff_passages(old_rows, source)
        summary = {k: v for k, v in diff.items() if k != "reuse"}
        summary.update(passages=len(source.ids), previous_corpus_sha256=manifest.corpus.sha256,
                       corpus_sha256=source.sha256, encoded=0, tokenized=0)
        same_records = records_sha256(source.records) == manifest.files["passages"].sha256
        if same_records and same_tokens and not new_faiss:
            # the same passages in the same order: only the manifest learns the new source
            summary["seconds"] = round(time.perf_counter() - started, 3)
            manifest.corpus = CorpusInfo(source=source.path, sha256=source.sha256, skipped_lines=source.skipped)
            manifest.corpus_sha256 = source.sha256
            manifest.updated_at = now()
            manifest.updates = trim_history([*manifest.updates, _history_entry(summary, manifest.updated_at)])
            write_json(out / MANIFEST, manifest.to_dict())
            return summary
        if dense_info is not None:
            _check_sizes(dense_info, len(source.ids))
        if same_records and same_tokens:  # another FAISS index over the same vectors, nothing else rebuilt
            with timer(seconds, "faiss"):
                new = _refaiss(out, manifest, dense_info)
            summary["seconds"] = round(time.perf_counter() - started, 3)
            return _finish(out, manifest, new, summary, seconds, dense_info, source)
        staging = staging_dir(out)
        model_info = embeddings = None
        if manifest.dense:
            assert manifest.model is not None and dense_info is not None
            todo = [i for i, r in enumerate(diff["reuse"]) if r < 0]
            encoder = None
            shards: list[Path] = []
            if todo:
                with timer(seconds, "model_load"):
                    encoder, _ = encoder_for(out, manifest, model, device, trust_remote_code)
                with timer(seconds, "encode"):
                    shards, stats = encode_resumable(encoder, [source.texts[i] for i in todo], staging, {
                        "corpus_sha256": source.sha256, "model_fingerprint": manifest.model.fingerprint},
                        shard_size, batch_size, show_progress)
                summary["encoded"] = stats["encoded"]
                summary["reused_shards"] = stats["reused_shards"]
            model_info = {k: v for k, v in manifest.model.to_dict().items() if k != "dim"}
            if model is not None:
                model_info.update(name=str(model), **model_paths(model, out))
            embeddings = _UpdatedRows(np.load(out / EMBEDDINGS, mmap_mode="r"), diff["reuse"], shards)
        tokens = None
        fields = (manifest.bm25.fields or []) if manifest.bm25 else []  # an index built before fields keeps texts
        if manifest.bm25:
            with timer(seconds, "tokenize"):
                tokens, summary["tokenized"] = tokens_for_update(out, staging, source.for_bm25(fields), show_progress)
        new = assemble(out, source, tokens, embeddings, model_info, dense_info, seconds, fields)
        summary["seconds"] = round(time.perf_counter() - started, 3)
        _finish(out, manifest, new, summary, seconds, dense_info)
        shutil.rmtree(staging, ignore_errors=True)
    summary["seconds"] = round(time.perf_counter() - started, 3)
    return summary


_FAISS_DEFAULTS = {"hnsw_m": 32, "ivf_lists": None, "pq_m": None}
_FAISS_OPTION_KINDS = {"hnsw_m": ("--hnsw-m", ("hnsw",)), "ivf_lists": ("--ivf-lists", ("ivf", "ivfpq")),
                       "pq_m": ("--pq-m", ("ivfpq",))}


def _dense_info(manifest, kind: str | None, hnsw_m: int | None, ivf_lists: int | None,
                pq_m: int | None) -> dict | None:
    """The FAISS kind and options the updated index gets: the build's, with what was given in their place
    (``ivf_lists`` 0: the automatic count). A new kind starts from the defaults for what was not given (an ``ivf``
    index made ``flat`` keeps no list count). Options the kind does not read, and a ``pq_m`` that does not divide
    the vectors' dimension, are refused."""
    given = {"hnsw_m": hnsw_m, "ivf_lists": ivf_lists, "pq_m": pq_m}
    if manifest.dense is None:
        if kind is not None or any(v is not None for v in given.values()):
            raise ConfigError("this index has no dense part (built with --no-dense): --faiss and its options apply "
                              "to an index built with a model")
        return None
    new_kind = kind or manifest.dense.kind
    options = dict(_FAISS_DEFAULTS) if new_kind != manifest.dense.kind else {**_FAISS_DEFAULTS,
                                                                             **manifest.dense.options}
    for key, value in given.items():
        if value is None:
            continue
        flag, kinds = _FAISS_OPTION_KINDS[key]
        if new_kind not in kinds:
            raise ConfigError(f"{flag} applies to {' and '.join(kinds)} indexes and this one would be {new_kind}: "
                              f"add --faiss {kinds[0]}, or leave {flag} out")
        options[key] = None if key == "ivf_lists" and value == 0 else value
    dim = manifest.dense.dim
    if new_kind == "ivfpq" and options["pq_m"] and dim and dim % options["pq_m"]:
        from lex_dpr.retrieval.dense import check_pq

        raise ConfigError(check_pq(options["pq_m"], dim, 10**9) or "")
    return {"kind": new_kind, "options": options}


def _finish(out: Path, manifest, new, summary: dict, seconds: dict, dense_info: dict | None,
            source: Passages | None = None) -> dict:
    """Record the update in the new manifest, carry the other tools' files over, and swap the new index in."""
    new.built_at = manifest.built_at
    new.build = manifest.build
    new.updated_at = now()
    if source is not None:  # the same passages (FAISS rebuilt only): the manifest learns the file they came from
        new.corpus = CorpusInfo(source=source.path, sha256=source.sha256, skipped_lines=source.skipped)
        new.corpus_sha256 = source.sha256
    if manifest.dense is not None and dense_info != _dense_info(manifest, None, None, None, None):
        summary["faiss"] = {"from": manifest.dense.kind, "to": dense_info["kind"]}
        if (out / "retrieval.json").exists():
            log.warning("%s: rag tune chose its settings on the %s index's rankings; run `lex-dpr rag tune` "
                        "again for the %s one", out, manifest.dense.kind, dense_info["kind"])
    history = [*manifest.updates, {**_history_entry(summary, new.updated_at), "timings": dict(seconds)}]
    new.updates = trim_history(history)
    for extra in extra_entries(out):  # what other tools keep in the index (rag tune's retrieval.json)
        copy = shutil.copytree if extra.is_dir() else shutil.copy2
        copy(extra, tmp_dir(out) / extra.name)
    commit(out, new.to_dict())
    return summary


def _check_sizes(dense_info: dict, passages: int) -> None:
    """The FAISS kind fits the passage count (IVF lists, PQ training), before anything is built."""
    check_ivf_lists(dense_info["kind"], dense_info["options"].get("ivf_lists"), passages, auto="--ivf-lists 0")
    check_pq_size(dense_info["kind"], passages)


def _refaiss(out: Path, manifest, dense_info: dict):
    """The same passages, tokens and vectors with another FAISS index: everything else is hard-linked into the
    new folder (copied where links fail), the FAISS index built from the memory-mapped vectors; the manifest."""
    from lex_dpr.retrieval.index.assemble import write_faiss
    from lex_dpr.retrieval.index.digests import file_entry
    from lex_dpr.retrieval.index.layout import DENSE, OWN_ENTRIES
    from lex_dpr.retrieval.index.manifest import Manifest

    tmp = tmp_dir(out)
    clear_leftover(tmp)
    tmp.mkdir(parents=True)
    for name in sorted(OWN_ENTRIES - {DENSE, MANIFEST}):
        if (out / name).is_dir():
            shutil.copytree(out / name, tmp / name, copy_function=_link)
        elif (out / name).exists():
            _link(out / name, tmp / name)
    dense = write_faiss(np.load(out / EMBEDDINGS, mmap_mode="r"), dense_info, tmp / DENSE)
    data = manifest.to_dict()
    return Manifest.from_dict({**data, "dense": dense, "files": {**data["files"], "dense": file_entry(tmp, DENSE)}})


def _same_file(passages: str | Path, manifest) -> bool:
    """Whether ``passages`` is byte for byte the file the index recorded last (its sha256), read as bytes only."""
    from lex_dpr.utils.hashing import sha256_file

    path = Path(passages)
    return bool(manifest.corpus.sha256) and path.is_file() and sha256_file(path) == manifest.corpus.sha256


def _link(src, dst) -> None:
    try:
        os.link(src, dst)  # index files are never written in place (an update builds a new folder): safe to share
    except OSError:
        shutil.copy2(src, dst)


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


def diff_passages(old: dict[str, tuple[int, str, str]], new: Passages) -> dict:
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



def trim_history(history: list[dict]) -> list[dict]:
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

