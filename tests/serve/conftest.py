"""A real ``lex-dpr serve`` process on 127.0.0.1 over an index of the sample corpus (static model, BM25)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

START_TIMEOUT_S = 90  # the index opens, then uvicorn binds; far less on an idle machine


@pytest.fixture(scope="session")
def serve_index(sample_training_data, trained_run, tmp_path_factory) -> Path:
    from lex_dpr.retrieval.index import build_index

    out = tmp_path_factory.mktemp("serve") / "index"
    build_index(sample_training_data["passages"], out, model=str(trained_run))
    return out


class Server:
    """A running server: its URL, its process and its log."""

    def __init__(self, proc: subprocess.Popen, log: Path, url: str) -> None:
        self.proc, self.log, self.url = proc, log, url

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextlib.contextmanager
def running_server(index: Path, log: Path, *flags: str):
    """Start ``lex-dpr serve --index INDEX --port 0 FLAGS``, wait (bounded) until /health answers, stop it after."""
    import httpx

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "NO_COLOR": "1"}
    with open(log, "wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "lex_dpr.cli.main", "serve", "--index", str(index),
                                 "--host", "127.0.0.1", "--port", "0", *flags], stdout=sink, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)
    try:
        deadline, url = time.monotonic() + START_TIMEOUT_S, None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"lex-dpr serve exited {proc.returncode}: {log.read_text(errors='replace')}")
            found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", log.read_text(errors="replace"))
            if found:
                url = found.group(1)
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(url + "/health", timeout=2).status_code == 200:
                        break
            time.sleep(0.1)
        else:
            pytest.fail(f"lex-dpr serve did not answer /health in {START_TIMEOUT_S} s: {log.read_text(errors='replace')}")
        yield Server(proc, log, url)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


@pytest.fixture(scope="module")
def server(serve_index, tmp_path_factory):
    """One server per test module (limits lowered so that the hostile requests stay small)."""
    log = tmp_path_factory.mktemp("serve_log") / "serve.log"
    with running_server(serve_index, log, "--max-texts", "64", "--max-text-chars", "2000", "--max-k", "50",
                        "--max-body-bytes", "200000", "--body-timeout", "1") as s:
        yield s
