"""lex_dpr.utils.locks: one flock for every lock; exclusive or shared, waiting or not, the holder named, and
released by the kernel when the holder is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from lex_dpr.errors import InputError
from lex_dpr.utils.io import WriteError
from lex_dpr.utils.locks import folder_lock, hold_lock, holder_of, try_lock

HOLDER = """
import sys, time
from lex_dpr.utils.locks import hold_lock
with hold_lock(sys.argv[1], shared=sys.argv[2] == "shared"):
    print("held", flush=True)
    time.sleep(60)
"""


def _holder(lock, mode="exclusive") -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(lock), mode], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_lock_held_elsewhere_names_its_holder_and_dies_with_it(tmp_path):
    lock = tmp_path / ".lock"
    proc = _holder(lock)
    try:
        assert try_lock(lock) is None and holder_of(lock) == str(proc.pid)
        with pytest.raises(InputError, match=rf"^{lock} is held by another process \(pid {proc.pid}\)$"):
            with hold_lock(lock, blocking=False):
                pass
        with pytest.raises(RuntimeError, match=f"busy: {proc.pid}"):
            with hold_lock(lock, blocking=False, held=lambda pid: RuntimeError(f"busy: {pid}")):
                pass
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    with hold_lock(lock, blocking=False):  # SIGKILL released it: no stale lock
        assert holder_of(lock) == str(os.getpid())


def test_shared_locks_share_and_exclude_a_writer_who_waits(tmp_path):
    lock = tmp_path / ".lock"
    reader = _holder(lock, "shared")
    try:
        with hold_lock(lock, shared=True, blocking=False):  # a second reader
            pass
        assert try_lock(lock) is None  # a writer may not
        got = []

        def write() -> None:
            with hold_lock(lock) as held:
                got.append(held)

        waiter = threading.Thread(target=write)
        waiter.start()
        time.sleep(0.2)
        assert not got  # still waiting for the reader
    finally:
        reader.send_signal(signal.SIGKILL)
        reader.wait()
    waiter.join(timeout=10)
    assert got == [lock]


def test_a_lock_that_cannot_be_created(tmp_path):
    (tmp_path / "file").write_text("x")
    lock = tmp_path / "file" / ".lock"  # a folder under a file: fails for root too
    with pytest.raises(WriteError, match="a part of the path is a file"):
        with hold_lock(lock):
            pass
    with hold_lock(lock, shared=True):  # nobody can write there: reading needs no lock
        pass


def test_folder_lock_message(tmp_path):
    with folder_lock(tmp_path, ".x.lock", "x run") as lock:
        assert lock == tmp_path / ".x.lock"
        with pytest.raises(InputError) as caught:
            with folder_lock(tmp_path, ".x.lock", "x run"):
                pass
    assert str(caught.value) == (f"{tmp_path / '.x.lock'} is held by another x run (pid {os.getpid()}); wait for "
                                 "it to finish or choose another output folder")
