"""File locks: the one ``flock`` every "one process at a time" in lex-dpr is built on.

A lock is an ``flock`` on a small file (``<folder>/.lock``, ``<cache>.lock``), never on the data it guards, so
that the data can be replaced (an atomic rewrite) while the lock is held. The kernel releases an ``flock``
when its holder dies, however it dies (SIGKILL, OOM kill, power loss on a local disk), so a dead process
never blocks the next one and there is no stale lock to clean up. Linux NFS clients map ``flock`` to a
whole-file POSIX lock, so the same lock holds across machines sharing a folder.

- :func:`hold_lock` is the primitive: exclusive or shared, waiting or failing at once. An exclusive holder
  writes its pid into the lock file, so that the error a second process gets can name the holder.
- :func:`try_lock` is the same without the ``with`` block: the open lock file, or None when it is taken.
- :func:`folder_lock` is the lock on an output folder (``make-pairs``, ``index build``, ``embed``, ``synth``).

Without ``fcntl`` (Windows) nothing is locked: one process at a time is then up to the user.

Example:
    >>> import tempfile
    >>> lock = Path(tempfile.mkdtemp()) / ".lock"
    >>> with hold_lock(lock, blocking=False):
    ...     try_lock(lock) is None, holder_of(lock) == str(os.getpid())
    (True, True)
    >>> with hold_lock(lock, shared=True), hold_lock(lock, shared=True):  # readers share it
    ...     pass
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from lex_dpr.errors import InputError


def try_lock(lock: str | Path, blocking: bool = False, *, shared: bool = False) -> IO[str] | None:
    """The open lock file with an ``flock`` held (exclusive unless ``shared``), or None when another process
    holds it and ``blocking`` is off.

    Close the returned file to release the lock. The lock file is created when missing and never removed.

    Raises:
        WriteError: the lock file cannot be created (read-only folder, no permission).
    """
    try:
        fh = Path(lock).open("a+")
    except OSError as exc:
        from lex_dpr.utils.io import WriteError

        raise WriteError(lock, exc) from None
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return fh
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    try:
        fcntl.flock(fh, mode if blocking else mode | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        return None
    except BaseException:
        fh.close()
        raise
    return fh


def holder_of(lock: str | Path) -> str:
    """What the lock's exclusive holder wrote into it (its pid), or ``"?"``."""
    with contextlib.suppress(OSError):
        return Path(lock).read_text().strip() or "?"
    return "?"


@contextlib.contextmanager
def hold_lock(lock: str | Path, *, shared: bool = False, blocking: bool = True,
              held: Callable[[str], Exception] | None = None) -> Iterator[Path]:
    """Hold an ``flock`` on ``lock`` for the ``with`` block.

    Args:
        lock: the lock file (created when missing, never removed).
        shared: a reader's lock, held by any number of processes at once, never with an exclusive one.
            A lock file that cannot be created (a read-only folder, where nobody can be writing) is not
            needed for reading: the block then runs without it.
        blocking: wait for the lock; without it a lock held elsewhere raises at once.
        held: the error raised when ``blocking`` is off and another process holds the lock, made from what
            the holder wrote (:func:`holder_of`); default an :class:`~lex_dpr.errors.InputError` naming both.

    Raises:
        WriteError: the lock file cannot be created (an exclusive lock).
        InputError: (or ``held``'s error) the lock is taken and ``blocking`` is off.
    """
    lock = Path(lock)
    unlockable = False
    try:
        fh = try_lock(lock, blocking, shared=shared)
    except OSError:
        if not shared:
            raise
        fh, unlockable = None, True
    if unlockable:
        yield lock
        return
    if fh is None:
        holder = holder_of(lock)
        raise held(holder) if held is not None else InputError(f"{lock} is held by another process (pid {holder})")
    try:
        if not shared:  # the holder's pid, for the error a second process gets
            with contextlib.suppress(OSError):
                fh.seek(0)
                fh.truncate()
                fh.write(str(os.getpid()))
                fh.flush()
        yield lock
    finally:
        fh.close()  # closing releases the lock


@contextlib.contextmanager
def folder_lock(folder: str | Path, name: str, holder: str) -> Iterator[Path]:
    """Hold ``folder/name`` for this process; a second holder fails at once, naming the lock and the pid.

    Raises:
        InputError: another process holds the lock (its pid is named).

    Example:
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> with folder_lock(folder, ".demo.lock", "demo run"):
        ...     with folder_lock(folder, ".demo.lock", "demo run"):
        ...         pass
        Traceback (most recent call last):
        lex_dpr.errors.InputError: .../.demo.lock is held by another demo run (pid ...); wait for it to finish or choose another output folder
    """
    lock = Path(folder) / name

    def held(pid: str) -> InputError:
        return InputError(f"{lock} is held by another {holder} (pid {pid}); wait for it to finish "
                          "or choose another output folder")

    with hold_lock(lock, blocking=False, held=held):
        yield lock
