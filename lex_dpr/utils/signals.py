"""SIGTERM as an exception: long jobs stop the way Ctrl-C stops them, record it, and exit 143.

Example:
    >>> with sigterm_raises():
    ...     pass  # a job; SIGTERM inside raises lex_dpr.errors.Terminated
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator

from lex_dpr.errors import Terminated


_received: int | None = None


def received() -> int | None:
    """The signal that last raised :class:`~lex_dpr.errors.Terminated` in this process, if any."""
    return _received


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """While inside, SIGTERM raises :class:`~lex_dpr.errors.Terminated` (a KeyboardInterrupt) in the main thread.

    Once: a SIGTERM that comes while the job is already stopping (a supervisor that sends it twice, ``kill``
    run again) does not interrupt the clean-up that records the stop; it says so on stderr. SIGKILL still stops
    the process at once, and every output is written whole or not at all either way.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    owner = os.getpid()
    stopping = False

    def handler(signum, frame):
        nonlocal stopping
        if os.getpid() != owner:  # a forked worker inherited the handler: die the default way, quietly
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        if stopping:
            os.write(2, b"lex-dpr: already stopping after SIGTERM; finishing the clean-up (SIGKILL stops at once)\n")
            return
        global _received
        stopping, _received = True, signum
        raise Terminated(f"received signal {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def die_with_parent(signum: int = signal.SIGTERM) -> None:
    """In a child process: receive ``signum`` when the parent dies, however it dies (``PR_SET_PDEATHSIG``; Linux
    only, elsewhere nothing). A sweep's trial gets SIGTERM (it stops at a safe point), a `rag batch` worker SIGKILL
    (its part is resumable as it stands)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signum)  # PR_SET_PDEATHSIG
