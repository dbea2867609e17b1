"""Concurrent requests answered with one call: the requests that arrive while a call runs go in the next one.

A lane has one worker thread. When it is idle a request runs at once, alone (no waiting for company, so a
single client sees no added latency); while it is busy, requests queue, and the next call takes every queued
request with the same key (the same mode, weight and k; the same embedding kind) up to ``max_batch``. So the
batch grows exactly when the server is loaded, which is when one encoding of 16 questions beats 16 of one.

A request whose client went away before its turn is dropped from the batch (its future is cancelled), so a
disconnect costs nothing.

Example:
    >>> import asyncio
    >>> async def main():
    ...     lane = BatchLane("upper", lambda key, items: [s.upper() for s in items])
    ...     out = await asyncio.gather(*(lane.submit("k", s) for s in "abc"))
    ...     await lane.close()
    ...     return out
    >>> asyncio.run(main())
    ['A', 'B', 'C']
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)


class BatchLane:
    """One worker thread answering batches of requests with ``run(key, items) -> results`` (same order).

    Args:
        name: the thread's name.
        run: called in the worker thread with a key and the items of every queued request with that key.
        max_batch: items per call at most.
        initializer: called once in the worker thread before its first call (per-thread settings).
    """

    def __init__(self, name: str, run: Callable[[Hashable, list[Any]], Sequence[Any]], max_batch: int = 64,
                 initializer: Callable[[], None] | None = None) -> None:
        self.name, self.run, self.max_batch = name, run, max_batch
        self._queue: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"lex-dpr-{name}", initializer=initializer)
        self.batches = self.items = self.dropped = 0

    def _start(self) -> asyncio.Queue:
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._task = asyncio.get_running_loop().create_task(self._loop(), name=f"lane-{self.name}")
        return self._queue

    async def submit(self, key: Hashable, item: Any) -> Any:
        """Queue ``item`` and wait for its result; cancelling the wait takes it out of its batch."""
        future = asyncio.get_running_loop().create_future()
        self._start().put_nowait((key, item, future))
        return await future

    async def _loop(self) -> None:
        assert self._queue is not None
        while True:
            first = await self._queue.get()
            pending = [first]
            while not self._queue.empty():
                pending.append(self._queue.get_nowait())
            while pending:
                key = pending[0][0]
                batch = [p for p in pending if p[0] == key][: self.max_batch]
                taken = {id(p) for p in batch}
                pending = [p for p in pending if id(p) not in taken]
                live = [p for p in batch if not p[2].done()]  # a cancelled future: the client left
                self.dropped += len(batch) - len(live)
                if live:
                    await self._call(key, live)

    async def _call(self, key: Hashable, batch: list) -> None:
        loop = asyncio.get_running_loop()
        items = [item for _, item, _ in batch]
        try:
            results = await loop.run_in_executor(self._pool, self.run, key, items)
        except Exception as exc:  # every request of the batch gets the error (the handler turns it into JSON)
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        self.batches += 1
        self.items += len(items)
        for (_, _, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def close(self) -> None:
        """Stop taking batches (the one running finishes) and let the worker thread go."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._pool.shutdown(wait=True)
