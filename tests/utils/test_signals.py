"""SIGTERM stops a job once: a second SIGTERM during its clean-up does not cut the clean-up short."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

JOB = textwrap.dedent("""
    import os, signal, sys, time
    from lex_dpr.errors import Terminated
    from lex_dpr.utils.signals import received, sigterm_raises
    try:
        with sigterm_raises():
            try:
                print("working", flush=True)
                time.sleep(30)
            except Terminated:
                print("cleaning", flush=True)
                time.sleep(1.5)  # a second SIGTERM arrives here
                print("cleaned", flush=True)
                raise
    except KeyboardInterrupt:
        print("stopped by", signal.Signals(received()).name, flush=True)
        sys.exit(143)
""")


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or os.name != "posix", reason="POSIX signals")
def test_a_second_sigterm_does_not_cut_the_clean_up_short():
    proc = subprocess.Popen([sys.executable, "-c", JOB], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "working"
        proc.send_signal(signal.SIGTERM)
        assert proc.stdout.readline().strip() == "cleaning"
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert out.split() == ["cleaned", "stopped", "by", "SIGTERM"]
    assert proc.returncode == 143
    assert "already stopping after SIGTERM" in err and "Traceback" not in err
