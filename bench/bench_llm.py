"""Times the generators: batching in the transformers backend, concurrency in the openai backend.

    poetry run python bench/bench_llm.py                                  # tiny random Qwen2 + a 200 ms server
    poetry run python bench/bench_llm.py --llm transformers:Qwen/Qwen2.5-0.5B-Instruct --device cuda
    poetry run python bench/bench_llm.py --llm openai:http://127.0.0.1:8000/v1

``transformers:`` prints new tokens per second for batch sizes 1, 4 and 16 (greedy, 32 new tokens, 16
Korean questions). ``openai:`` prints requests per second at concurrency 1, 4 and 16; without ``--llm`` it
runs against a loopback server that answers every request after 200 ms, which measures only the client's
concurrency (16 requests: ~3.2 s one at a time, ~0.2 s all at once).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from lex_dpr.llm.base import GenerationConfig
from lex_dpr.llm.open import open_generator

QUESTIONS = [f"민법 제{750 + i}조에 따른 손해배상 책임의 요건을 설명해 주세요." for i in range(16)]
CONVERSATIONS = [[{"role": "system", "content": "당신은 한국 법률 도우미입니다."}, {"role": "user", "content": q}]
                 for q in QUESTIONS]


class _Slow(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _send(self, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._send({"object": "list", "data": [{"id": "slow", "object": "model", "created": 0, "owned_by": "me"}]})

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(0.2)
        self._send({"id": "x", "object": "chat.completion", "created": 0, "model": "slow",
                    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "네"}}]})


def bench_transformers(spec: str, device: str | None) -> None:
    gen = open_generator(spec, GenerationConfig(), device=device)
    gen.generate(CONVERSATIONS[:2], GenerationConfig(max_new_tokens=4))  # warm-up
    for batch_size in (1, 4, 16):
        config = GenerationConfig(max_new_tokens=32, batch_size=batch_size, repetition_penalty=1.0)
        start = time.perf_counter()
        out = gen.generate(CONVERSATIONS, config)
        took = time.perf_counter() - start
        tokens = sum(g.completion_tokens or 0 for g in out)
        print(f"{gen.name} on {gen.device}: batch_size={batch_size:2d}  {tokens / took:8.1f} new tokens/s  "
              f"({took:.2f} s for {len(out)} answers)")


def bench_openai(spec: str) -> None:
    gen = open_generator(spec, GenerationConfig())
    for concurrency in (1, 4, 16):
        config = GenerationConfig(max_new_tokens=32, concurrency=concurrency)
        start = time.perf_counter()
        out = gen.generate(CONVERSATIONS, config)
        took = time.perf_counter() - start
        failed = sum(g.error is not None for g in out)
        print(f"{gen.name}: concurrency={concurrency:2d}  {len(out) / took:6.1f} requests/s  "
              f"({took:.2f} s for {len(out)}, {failed} failed)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm", help="transformers:MODEL or openai:URL (default: tiny model and a 200 ms server)")
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    if args.llm:
        (bench_transformers(args.llm, args.device) if args.llm.startswith("transformers:") else bench_openai(args.llm))
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "llm"))
    from tiny_lm import build_tiny_lm

    with tempfile.TemporaryDirectory() as tmp:
        bench_transformers(f"transformers:{build_tiny_lm(Path(tmp) / 'tiny')}", args.device or "cpu")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        bench_openai(f"openai:http://127.0.0.1:{server.server_address[1]}/v1")
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
