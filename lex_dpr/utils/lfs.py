"""Git LFS pointers: the small text files a model repository cloned without ``git lfs pull`` holds.

A pointer is at most 1 KiB of text ("version https://git-lfs.github.com/spec/v1", "oid sha256:...",
"size N") where the weights or tokenizer should be; read as weights it gives messages like "header length
2336927755350992246 is impossible". The check reads at most 200 bytes of a file under 1 KiB.

Example:
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.safetensors"
    >>> _ = path.write_text(POINTER_EXAMPLE)
    >>> is_lfs_pointer(path)
    True
    >>> require_not_lfs_pointer(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    lex_dpr.errors.InputError: .../model.safetensors: a Git LFS pointer, not the file itself; run `git lfs pull` ...
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from lex_dpr.errors import InputError

MAX_POINTER_SIZE = 1024  # the spec's limit
_HEAD = 200
_VERSIONS = (b"version https://git-lfs.github.com/spec/", b"version https://hawser.github.com/spec/")
POINTER_EXAMPLE = ("version https://git-lfs.github.com/spec/v1\n"
                   "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 90868376\n")


def is_lfs_pointer(path: str | Path) -> bool:
    """True when ``path`` is a regular file under 1 KiB that starts like a Git LFS pointer."""
    try:
        st = os.stat(path)  # follows links: the Hugging Face cache links snapshot files to blobs
        if not stat.S_ISREG(st.st_mode) or st.st_size >= MAX_POINTER_SIZE:
            return False
        with open(path, "rb") as fh:
            head = fh.read(_HEAD)
    except OSError:
        return False
    return head.startswith(_VERSIONS) and b"\noid " in head


def pointer_message(path: str | Path) -> str:
    return f"{path}: a Git LFS pointer, not the file itself; run `git lfs pull` in the model's repository"


def require_not_lfs_pointer(path: str | Path) -> None:
    """Raise :class:`InputError` (one line naming the file and the fix) when ``path`` is an LFS pointer."""
    if is_lfs_pointer(path):
        raise InputError(pointer_message(path))


def lfs_pointers(folder: str | Path) -> list[Path]:
    """LFS pointers among the files of ``folder`` and of its immediate subfolders (e.g. ``1_Pooling/``)."""
    folder = Path(folder)
    found = []
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            try:
                found += [p for p in sorted(entry.iterdir()) if not p.name.startswith(".") and is_lfs_pointer(p)]
            except OSError:
                continue
        elif is_lfs_pointer(entry):
            found.append(entry)
    return found


def require_no_lfs_pointers(folder: str | Path) -> None:
    """Raise :class:`InputError` naming the first LFS pointer in a model folder (and how many more)."""
    found = lfs_pointers(folder)
    if found:
        more = f" ({len(found) - 1} more pointer(s) in {folder})" if len(found) > 1 else ""
        raise InputError(pointer_message(found[0]) + more)
