"""The index's per-file digests: recorded at build (size, sha256, sampled sha256), checked at open and ``--verify``.

The manifest records every file's size, sha256 and a sampled sha256 (:func:`sampled_sha256`: 64 blocks of
4 KiB spread over the file). Opening checks sizes, the sampled hashes and the full hash of
``passages.jsonl`` (read whole anyway): a FAISS file from another build, random bytes in ``embeddings.npy`` or
a same-size edit of the passages is refused, naming the file. ``lex-dpr index info --verify`` and ``update``
(which carries vectors and morphemes into the new index) hash every byte. An index built before digests
were recorded is checked by size only, and cannot be verified.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from lex_dpr.errors import InputError
from lex_dpr.retrieval.index.manifest import Manifest, read_manifest
from lex_dpr.utils.io import sha256_file


def check_files(folder: Path, manifest: Manifest, full: bool = False) -> None:
    """Every file of the index against the manifest: there, of its size, and of its content.

    The content check is cheap by default (a hash of :data:`SAMPLE_BLOCKS` blocks spread over each file, and
    the whole of ``passages.jsonl``, which opening reads anyway); ``full`` hashes every byte (``index info
    --verify``, and ``update`` before it reuses vectors). An index built before digests were recorded is
    checked by size only.

    Raises:
        InputError: a file missing, or of another size or content, every one named.
    """
    problems = []
    for name, entry in manifest.files.items():
        path = folder / (entry.path or "")
        if not path.exists():
            raise InputError(f"{path}: missing from the index ({name}); build the index again")
        for file, e in entry.members(folder):
            if not file.is_file():
                problems.append(f"{file}: missing")
            elif e.bytes is not None and file.stat().st_size != e.bytes:
                problems.append(f"{file}: {file.stat().st_size} bytes, the manifest says {e.bytes}")
            elif (full or name == "passages") and e.sha256 is not None and sha256_file(file) != e.sha256:
                problems.append(f"{file}: same size, other content (sha256 differs from the manifest's)")
            elif not full and e.sample_sha256 is not None and sampled_sha256(file) != e.sample_sha256:
                problems.append(f"{file}: same size, other content (sampled sha256 differs from the manifest's)")
    if problems:
        raise InputError(f"{folder}: changed, cut or replaced after the build: {'; '.join(problems)}; build the index "
                         f"again ({rebuild_command(folder, manifest)})")


def rebuild_command(folder: Path, manifest: Manifest) -> str:
    """The ``lex-dpr index build`` line that makes this index again."""
    corpus = manifest.corpus.source or "CORPUS.jsonl"
    model = manifest.model
    how = f"--model {model.path or model.name}" if model else "--no-dense"
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
    entries = manifest.file_digests()
    if not entries or any(e.sha256 is None for e in entries):
        raise InputError(f"{folder}: built before lex-dpr recorded every file's sha256, so it cannot be verified; "
                         f"build it again ({rebuild_command(folder, manifest)})")
    check_files(folder, manifest, full=True)
    return {"files": len(entries), "bytes": sum(e.bytes or 0 for e in entries)}


def file_entry(folder: Path, name: str) -> dict:
    """A file's manifest entry: its size, sha256 (``--verify``) and sampled sha256 (checked at every open)."""
    path = folder / name
    return {"path": name, "bytes": path.stat().st_size, "sha256": sha256_file(path),
            "sample_sha256": sampled_sha256(path)}


def folder_entry(folder: Path, name: str) -> dict:
    """A folder's manifest entry: each file in it as :func:`file_entry` records it."""
    root = folder / name
    files = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        files[rel] = {k: v for k, v in file_entry(root, rel).items() if k != "path"}
    return {"path": name, "files": files}


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
