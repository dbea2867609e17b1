"""Helpers shared by tests in several folders: the in-process CLI runner and a cheap folder copy."""

from __future__ import annotations

import contextlib
from pathlib import Path


def lex_dpr(args: list[str]):
    """Run the CLI as `lex-dpr` runs it (one-line errors, exit codes); returns click's Result."""
    import logging

    import click
    from click.testing import CliRunner

    from lex_dpr.cli.main import app, run

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    entry = click.Command("lex-dpr", callback=lambda: run(lambda: app(args=args, prog_name="lex-dpr",
                                                                       standalone_mode=False)))
    try:
        return CliRunner().invoke(entry, [])
    finally:  # run() sets up logging for the CLI; leave the test session's as it was
        root.handlers[:], root.level = handlers, level


def link_copy(src: Path, dst: Path) -> Path:
    """The folder's tree with every file a symlink to the original (cheap for 90 MB of weights)."""
    for path in src.rglob("*"):
        target = dst / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(path)
    return dst


@contextlib.contextmanager
def chat_server(reply):
    """A real OpenAI-compatible HTTP server on 127.0.0.1 (a thread): ``/v1/models`` lists one model and
    ``/v1/chat/completions`` answers with ``reply(messages) -> (status, text)``. Yields the base URL."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Chat(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _send(self, code, body):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._send(200, {"object": "list", "data": [{"id": "m", "object": "model", "created": 0, "owned_by": "t"}]})

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            status, text = reply(body["messages"])
            if status != 200:
                self._send(status, {"error": {"message": text}})
                return
            self._send(200, {"id": "c", "object": "chat.completion", "created": 0, "model": "m",
                             "choices": [{"index": 0, "finish_reason": "stop",
                                          "message": {"role": "assistant", "content": text}}],
                             "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Chat)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
