"""Run the app under uvicorn: start, serve, and on SIGTERM drain the requests in flight, then exit 143.

With ``workers`` > 1, uvicorn's process supervisor runs that many servers on one socket; each opens the
index itself (memory-mapped files, so the pages are shared) and the settings travel in an environment
variable (:data:`ENV`), read by :func:`app_from_env`.

Example:
    >>> serve("index", load_serve_config(["port=8000"]))  # doctest: +SKIP
    0
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import orjson

from lex_dpr.serve.config import ServeConfig

log = logging.getLogger(__name__)

ENV = "LEX_DPR_SERVE"  # JSON: what app_from_env opens in a worker process


def open_app(index_dir: str | Path, cfg: ServeConfig, rag_config: str | Path | None = None,
             overrides: Sequence[str] = (), model: str | None = None, device: str | None = None):
    """Open the index (as ``rag ask`` does), answer one search to load everything lazy, build the app."""
    from lex_dpr.serve.app import create_app
    from lex_dpr.serve.service import SearchService, limit_threads

    limit_threads(cfg.threads)
    service = SearchService(index_dir, rag_config, overrides, model, device)
    service.warm_up()
    return create_app(service, cfg)


def app_from_env():
    """The app a worker process serves (uvicorn calls this factory in each worker)."""
    from lex_dpr.serve.config import load_serve_config

    spec = orjson.loads(os.environ[ENV])
    return open_app(spec["index"], load_serve_config(spec["serve"]), spec["rag_config"], spec["overrides"],
                    spec["model"], spec["device"])


def serve(index_dir: str | Path, cfg: ServeConfig, rag_config: str | Path | None = None,
          overrides: Sequence[str] = (), model: str | None = None, device: str | None = None,
          on_ready=None) -> int:
    """Serve until SIGTERM or Ctrl-C; returns the exit code (0, 130 after Ctrl-C, 143 after SIGTERM).

    The index opens before the socket is bound, so a bad index fails before anything listens. ``on_ready``
    is called with the URL once the server accepts connections.
    """
    import uvicorn

    from lex_dpr.utils.config import to_overrides

    common = dict(host=cfg.host, port=cfg.port, log_level="warning", access_log=False,
                  timeout_graceful_shutdown=cfg.drain_timeout_s, timeout_keep_alive=5, lifespan="on",
                  limit_concurrency=None, server_header=False)
    received: list[int] = []
    if cfg.workers == 1:
        app = open_app(index_dir, cfg, rag_config, overrides, model, device)
        server = uvicorn.Server(uvicorn.Config(app, **common))
    else:
        os.environ[ENV] = orjson.dumps({"index": str(index_dir), "serve": to_overrides(cfg), "model": model,
                                        "device": device, "rag_config": None if rag_config is None else str(rag_config),
                                        "overrides": list(overrides)}).decode()
        app_from_env()  # fail here, once, on a bad index, rather than in every worker
        config = uvicorn.Config("lex_dpr.serve.run:app_from_env", factory=True, workers=cfg.workers, **common)
        server = uvicorn.Server(config)
    if cfg.workers == 1:
        _announce(server, on_ready)
    # uvicorn drains on SIGTERM/SIGINT, then raises the signal again once it has stopped: count it here
    handlers = {}
    if threading.current_thread() is threading.main_thread():
        handlers = {sig: signal.signal(sig, lambda s, f: received.append(s)) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if cfg.workers == 1:
            server.run()
        else:
            _run_workers(server.config, received, on_ready)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    if signal.SIGTERM in received:
        return 143
    return 130 if signal.SIGINT in received else 0


def _run_workers(config, received: list[int], on_ready) -> None:
    from uvicorn.supervisors import Multiprocess

    sock = config.bind_socket()
    host, port = sock.getsockname()[:2]
    _ready(f"http://{host}:{port}", on_ready)  # the socket listens; a worker takes connections once it started
    supervisor = Multiprocess(config, sockets=[sock])
    term, intr = supervisor.handle_term, supervisor.handle_int
    supervisor.handle_term = lambda: (received.append(signal.SIGTERM), term())[1]
    supervisor.handle_int = lambda: (received.append(signal.SIGINT), intr())[1]
    supervisor.run()


def _announce(server, on_ready) -> None:
    """Print the URL (the real port when it was 0) once the server listens."""
    startup = server.startup

    async def started(sockets=None):
        await startup(sockets=sockets)
        if server.servers:
            host, port = server.servers[0].sockets[0].getsockname()[:2]
            _ready(f"http://{host}:{port}", on_ready)

    server.startup = started


def _ready(url: str, on_ready) -> None:
    print(f"lex-dpr serve: listening on {url} (docs {url}/docs); Ctrl-C or SIGTERM stops it", file=sys.stderr,
          flush=True)
    if on_ready is not None:
        on_ready(url)
