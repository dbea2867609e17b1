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
    """While inside, SIGTERM raises :class:`~lex_dpr.errors.Terminated` (a KeyboardInterrupt) in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    owner = os.getpid()

    def handler(signum, frame):
        if os.getpid() != owner:  # a forked worker inherited the handler: die the default way, quietly
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        global _received
        _received = signum
        raise Terminated(f"received signal {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
