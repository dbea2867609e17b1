"""The index folder's layout: its file names, its hidden siblings, and the transaction that replaces it.

::

    index/
      manifest.json          what was built, from which corpus, model and tokeniser (written last)
      passages.jsonl         the passages as read (bad lines dropped): row i = vector i = BM25 document i
      passage_hashes.jsonl   ["id", sha256 of the text, of the other fields] per row: what ``update`` compares
      embeddings.npy         float32 n x dim, L2-normalised (dense part; opened memory-mapped)
      dense.faiss            FAISS inner-product index over the embeddings (flat, hnsw or ivf)
      bm25/                  bm25s index over Kiwi morphemes (loads memory-mapped)
      tokens/                the passages' Kiwi morphemes (a TokenCache): ``update`` tokenises new texts only
    .index.staging/          finished encoding shards and the Kiwi token cache, kept across interruptions
    .index.tmp/              the new folder being assembled
    .index.old/              the previous index, only between the two renames of a swap without exchange
    .index.lock              one build or update per index at a time

The new folder replaces ``index/`` only when complete, by :func:`lex_dpr.utils.folders.commit_folder`.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from lex_dpr.errors import InputError
from lex_dpr.utils import folders
from lex_dpr.utils.io import ensure_writable, folder_lock, write_json

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FORMAT = 1  # the manifest's layout version; an index of another version is refused with "rebuild it"
PASSAGES = "passages.jsonl"
HASHES = "passage_hashes.jsonl"
EMBEDDINGS = "embeddings.npy"
DENSE = "dense.faiss"
BM25_DIR = "bm25"
TOKENS_DIR = "tokens"
OWN_ENTRIES = frozenset({MANIFEST, PASSAGES, HASHES, EMBEDDINGS, DENSE, BM25_DIR, TOKENS_DIR})
NEXT_STEP = "the next index build or update"


def staging_dir(out: Path) -> Path:
    """``.index.staging``: encoding shards and morphemes, kept across interruptions."""
    return folders.staging_path(out, "staging")


def tmp_dir(out: Path) -> Path:
    """``.index.tmp``: the new index being assembled."""
    return folders.staging_path(out, "tmp")


def old_dir(out: Path) -> Path:
    """``.index.old``: the previous index between the two renames of a swap."""
    return folders.old_path(out)


def extra_entries(out: Path) -> list[Path]:
    """What an index folder holds besides the index itself (settings other tools keep there)."""
    if not out.is_dir():
        return []
    return sorted(p for p in out.iterdir() if p.name not in OWN_ENTRIES and not p.name.startswith("."))


def check_out(out: Path) -> None:
    """``out`` is new, empty or an index (never delete a folder that is something else)."""
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} is a file; --out takes a folder for the index")
    if out.is_dir() and not (out / MANIFEST).is_file() and any(out.iterdir()):
        raise InputError(f"{out} exists and is not a lex-dpr index (no {MANIFEST}); choose another --out or empty it")
    ensure_writable(out.parent, folder=True, flag="--out")
    check_replaceable(out, "build")


def check_replaceable(out: Path, command: str) -> None:
    """A build or update replaces the whole folder, and removes the old one: every folder in it must be
    writable (a read-only copy or mount would be left half-replaced, or in the way of the next run)."""
    if not out.is_dir():
        return
    for folder in (out, *(p for p in out.rglob("*") if p.is_dir() and not p.is_symlink())):
        if not os.access(folder, os.W_OK | os.X_OK):
            other = "update a copy (cp -r {out} NEW_INDEX)" if command == "update" else "choose another --out"
            raise InputError(f"{out}: read-only ({folder} cannot be written), and `lex-dpr index {command}` replaces "
                             f"the whole folder: make it writable (chmod -R u+w {out}) or {other.format(out=out)}")


@contextlib.contextmanager
def locked(out: Path, holder: str) -> Iterator[None]:
    """One build or update per index folder; leftovers of a killed run are cleaned up (or restored)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with folder_lock(out.parent, f".{out.name}.lock", holder):
        if folders.restore_interrupted(out, complete=MANIFEST):  # killed between the two renames of a swap
            log.warning("%s: restored from %s (a swap was interrupted)", out, old_dir(out))
        elif old_dir(out).is_dir():
            clear_leftover(old_dir(out))
        clear_leftover(tmp_dir(out))
        try:
            yield
        finally:
            folders.remove_or_warn(tmp_dir(out), NEXT_STEP)


def clear_leftover(path: Path) -> None:
    """Remove what a killed or failed run left at ``path``, or stop with how to remove it."""
    why = folders.remove(path)
    if why is not None:
        raise InputError(f"{path}: left by an earlier index build or update and cannot be removed ({why}); remove it "
                         f"(rm -rf {path}) and run again")


def commit(out: Path, manifest: dict) -> None:
    """Write the manifest (last) into the assembled folder and swap it into place."""
    tmp = tmp_dir(out)
    write_json(tmp / MANIFEST, manifest)
    folders.commit_folder(tmp, out, clear_old=clear_leftover, next_step=NEXT_STEP)
