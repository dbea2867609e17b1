"""Staged commits of folders and single files: written beside, synced, then put in place in one step.

A reader sees the old folder or the new one, never half of either. The new content is written into a
sibling (``.NAME.tmp``), its files and folders are fsynced, and then it takes the place of ``NAME``:

- no ``NAME`` yet: one ``rename``;
- Linux: ``renameat2(RENAME_EXCHANGE)`` swaps the two atomically, and the old content (now at the staged
  path) is removed;
- elsewhere (a file system that cannot exchange): ``NAME`` → ``.NAME.old``, then the staged folder →
  ``NAME``, then ``.NAME.old`` is removed. A kill between the two renames leaves ``.NAME.old`` and no
  ``NAME``; :func:`restore_interrupted` (called by whoever next holds the folder's lock) renames it back.

:func:`staged_folder` and :func:`staged_file` wrap that for a writer that produces a whole folder (a BM25
index, a saved model) or one file (a FAISS index) through a library that takes a path.

Example:
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> with staged_folder(root / "model") as tmp:
    ...     tmp.mkdir()
    ...     _ = (tmp / "weights").write_text("v1")
    >>> with staged_folder(root / "model") as tmp:
    ...     tmp.mkdir()
    ...     _ = (tmp / "weights").write_text("v2")
    >>> (root / "model" / "weights").read_text(), sorted(p.name for p in root.iterdir())
    ('v2', ['model'])
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)


def staging_path(dest: str | Path, suffix: str = "tmp") -> Path:
    """The hidden sibling a new ``dest`` is assembled in: ``a/index`` → ``a/.index.tmp``."""
    dest = Path(dest)
    return dest.with_name(f".{dest.name}.{suffix}")


def old_path(dest: str | Path) -> Path:
    """Where the previous ``dest`` waits between the two renames of a swap without exchange: ``a/.index.old``."""
    return staging_path(dest, "old")


def fsync_dir(folder: str | Path) -> None:
    """Make a folder's entries (a rename into it) durable; a no-op where folders cannot be opened."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def fsync_tree(root: str | Path) -> None:
    """fsync every file and folder under ``root`` (and ``root`` itself), so that a commit after it is durable."""
    root = Path(root)
    if root.is_file():
        _fsync_file(root)
        return
    for folder, _, files in os.walk(root):
        for name in files:
            _fsync_file(Path(folder) / name)
        fsync_dir(folder)


def _fsync_file(path: Path) -> None:
    fsync_dir(path)  # the same call: open read-only, fsync, close; a no-op where it cannot be opened


def exchange(a: str | Path, b: str | Path) -> bool:
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


def remove(path: str | Path) -> str | None:
    """Remove a file or folder (read-only folders in it made writable first); None when it is gone, else why not."""
    path = Path(path)
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


def remove_or_warn(path: str | Path, next_step: str = "the next run") -> None:
    """:func:`remove`, logging a warning with the ``rm -rf`` to run when it cannot."""
    why = remove(path)
    if why is not None:
        log.warning("%s: cannot be removed (%s); remove it (rm -rf %s) before %s", path, why, path, next_step)


def commit_folder(staged: str | Path, dest: str | Path, *, clear_old=None, next_step: str = "the next run") -> None:
    """Put the complete folder ``staged`` at ``dest`` in one step (see the module docstring) and remove the old one.

    Args:
        staged: the new folder, beside ``dest`` (same file system).
        dest: where it goes; an existing folder there is replaced.
        clear_old: called with ``.dest.old`` when one is in the way of the two-rename swap (default: removed,
            an ``OSError`` when it cannot be); the index raises its own error there.
        next_step: what the warning names when the previous folder cannot be removed afterwards.
    """
    staged, dest = Path(staged), Path(dest)
    fsync_tree(staged)
    if not dest.exists():
        os.rename(staged, dest)
        fsync_dir(dest.parent)
        return
    if exchange(staged, dest):
        fsync_dir(dest.parent)
        remove_or_warn(staged, next_step)  # now the previous folder
        return
    old = old_path(dest)
    if clear_old is not None:
        clear_old(old)
    elif (why := remove(old)) is not None:
        raise OSError(errno.EEXIST, f"{old} is in the way and cannot be removed ({why})", str(old))
    os.rename(dest, old)
    os.rename(staged, dest)
    fsync_dir(dest.parent)
    remove_or_warn(old, next_step)


def restore_interrupted(dest: str | Path, complete: str | None = None) -> bool:
    """Undo a swap a kill cut between its two renames: ``.dest.old`` back to ``dest`` when ``dest`` is missing.

    Args:
        complete: a file that must be in ``.dest.old`` for it to count as a whole folder (e.g. ``manifest.json``).

    Returns:
        True when it was renamed back.
    """
    dest = Path(dest)
    old = old_path(dest)
    if old.is_dir() and not dest.exists() and (complete is None or (old / complete).is_file()):
        os.rename(old, dest)
        fsync_dir(dest.parent)
        return True
    return False


@contextlib.contextmanager
def staged_folder(dest: str | Path, staged: str | Path | None = None) -> Iterator[Path]:
    """Yield a fresh path beside ``dest`` to write a whole folder into; on success it replaces ``dest``.

    The path does not exist yet (libraries that save to a folder create it); a leftover of a killed run is
    removed first. On an exception the staged folder is removed and ``dest`` stays as it was.

    Args:
        staged: where to stage (default ``.dest.tmp``); it must be on ``dest``'s file system.
    """
    dest = Path(dest)
    tmp = Path(staged) if staged is not None else staging_path(dest)
    restore_interrupted(dest)
    remove(tmp)
    remove(old_path(dest))
    try:
        yield tmp
    except BaseException:
        remove(tmp)
        raise
    commit_folder(tmp, dest)


@contextlib.contextmanager
def staged_file(dest: str | Path) -> Iterator[Path]:
    """Yield a path beside ``dest`` for a library that writes a file by name; on success it is fsynced and
    renamed onto ``dest`` (a reader sees the old file or the new, whole). On an exception it is removed."""
    dest = Path(dest)
    tmp = staging_path(dest)
    try:
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(dest.parent)
