"""Load test of `lex-dpr serve`: N requests at concurrency 1, 16 and 64 over loopback; p50/p99 and requests/s.

    poetry run python bench/bench_serve.py --index out/shared/index_best
    poetry run python bench/bench_serve.py --index out/shared/index_best --endpoint embed --requests 2000

Starts the server (`lex-dpr serve --index INDEX --port 0`, one worker unless --workers), waits for /health,
warms up, then for each concurrency sends --requests requests (bounded also by --max-seconds per level) from
keep-alive connections on 127.0.0.1 and prints one row per level. The client is a few lines of asyncio over
raw sockets (no HTTP library), so it takes as little of the CPU the server is measured on as it can.
Targets on 2 cores with the static model: /search p50 <= 10 ms at concurrency 1, >= 500 requests/s at 16.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUESTIONS = [
    "불법행위로 인한 손해배상 책임은 언제 생기나요?", "근로계약을 해지하려면 어떤 절차가 필요한가요?",
    "임대차 보증금을 돌려받지 못하면 어떻게 하나요?", "상속을 포기하려면 언제까지 신고해야 하나요?",
    "사기죄의 처벌 기준", "개인정보 유출 시 손해배상", "채권의 소멸시효는 몇 년인가요?", "부당해고 구제신청 기간",
    "명예훼손죄 성립 요건", "계약 해제의 효과", "건축허가 취소 사유", "음주운전 면허 취소 기준",
    "소송비용 부담 원칙", "행정처분 취소소송 제기 기간", "미성년자의 법률행위 취소", "공무원 징계 절차",
]


def body_for(endpoint: str, question: str) -> dict:
    if endpoint == "embed":
        return {"texts": [question], "kind": "query"}
    if endpoint == "v1":
        return {"input": question, "model": "lex-dpr", "encoding_format": "base64"}
    return {"question": question, "k": 6}


class Connection:
    """One keep-alive HTTP/1.1 connection: POST JSON, read the status and the Content-Length body."""

    def __init__(self, reader, writer, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, host)

    async def post(self, path: str, payload: bytes) -> int:
        self.writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


async def load(host: str, port: int, path: str, payloads: list[bytes], requests: int, concurrency: int,
               max_seconds: float) -> dict:
    latencies: list[float] = []
    errors = 0
    counter = itertools.count()
    deadline = time.perf_counter() + max_seconds

    async def worker() -> None:
        nonlocal errors
        conn = await Connection.open(host, port)
        try:
            while (i := next(counter)) < requests and time.perf_counter() < deadline:
                started = time.perf_counter()
                status = await conn.post(path, payloads[i % len(payloads)])
                latencies.append(time.perf_counter() - started)
                errors += status != 200
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    ms = sorted(x * 1000 for x in latencies)
    return {"concurrency": concurrency, "requests": len(ms), "errors": errors, "seconds": round(wall, 2),
            "p50_ms": round(statistics.median(ms), 2), "p90_ms": round(ms[int(0.90 * (len(ms) - 1))], 2),
            "p99_ms": round(ms[int(0.99 * (len(ms) - 1))], 2), "requests_per_s": round(len(ms) / wall, 1)}


def start_server(index: Path, workers: int, log: Path, extra: list[str]) -> tuple[subprocess.Popen, str, int]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    sink = open(log, "wb")
    proc = subprocess.Popen([sys.executable, "-m", "lex_dpr.cli.main", "serve", "--index", str(index), "--port", "0",
                             "--workers", str(workers), *extra], stdout=sink, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"lex-dpr serve exited {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
        found = re.search(r"listening on http://([\d.]+):(\d+)", log.read_text(errors="replace"))
        if found:
            return proc, found.group(1), int(found.group(2))
        time.sleep(0.1)
    proc.kill()
    sys.exit(f"lex-dpr serve did not start in 180 s: {log.read_text(errors='replace')[-2000:]}")


async def wait_healthy(host: str, port: int, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(f"GET /health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            data = await reader.read()
            writer.close()
            if data.startswith(b"HTTP/1.1 200"):
                return json.loads(data.split(b"\r\n\r\n", 1)[1])
        except OSError:
            pass
        await asyncio.sleep(0.2)
    sys.exit(f"/health did not answer in {timeout} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path, default=Path("out/shared/index_best"))
    ap.add_argument("--endpoint", choices=["search", "answer", "embed", "v1"], default="search")
    ap.add_argument("--requests", type=int, default=5000, help="Per concurrency level.")
    ap.add_argument("--concurrency", default="1,16,64")
    ap.add_argument("--max-seconds", type=float, default=60, help="Per level: stop sending after this long.")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--json", type=Path, help="Also write the rows as JSON.")
    args, extra = ap.parse_known_args()
    if not (args.index / "manifest.json").is_file():
        sys.exit(f"{args.index}: no index; build one with `lex-dpr index build --passages out/shared/merged_corpus.jsonl "
                 f"--model out/shared/run --out {args.index}`")
    path = {"search": "/search", "answer": "/answer", "embed": "/embed", "v1": "/v1/embeddings"}[args.endpoint]
    payloads = [json.dumps(body_for(args.endpoint, q), ensure_ascii=False).encode() for q in QUESTIONS]
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "serve.log"
        proc, host, port = start_server(args.index, args.workers, log, extra)
        try:
            health = asyncio.run(wait_healthy(host, port))
            print(f"server: {args.index} ({health['index']['passages']} passages, model {health['model']['kind']} "
                  f"{health['model']['name']}, {health['retrieval']}), {args.workers} worker(s), {os.cpu_count()} "
                  f"cores; POST {path}, {args.requests} requests per level (at most {args.max_seconds:g} s)")
            asyncio.run(load(host, port, path, payloads, args.warmup, 4, 30))
            rows = []
            print(f"{'concurrency':>11} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} "
                  f"{'req/s':>8} {'seconds':>7}")
            for c in (int(x) for x in args.concurrency.split(",")):
                row = asyncio.run(load(host, port, path, payloads, args.requests, c, args.max_seconds))
                rows.append(row)
                print(f"{row['concurrency']:>11} {row['requests']:>8} {row['errors']:>6} {row['p50_ms']:>8} "
                      f"{row['p90_ms']:>8} {row['p99_ms']:>8} {row['requests_per_s']:>8} {row['seconds']:>7}", flush=True)
            lanes = asyncio.run(wait_healthy(host, port))["lanes"]
            print("batching:", ", ".join(f"{k} {v['requests']} requests in {v['batches']} batches"
                                         for k, v in lanes.items() if v["requests"]))
            if args.json:
                args.json.write_text(json.dumps({"endpoint": path, "workers": args.workers, "rows": rows}, indent=2))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
            print(f"server stopped with exit {code} after SIGTERM")


if __name__ == "__main__":
    main()
