"""BatchLane: queued requests share one call; a request whose client left never runs."""

from __future__ import annotations

import asyncio
import threading

from lex_dpr.serve.batcher import BatchLane


def test_requests_queued_behind_a_running_call_share_the_next_one_and_cancelled_ones_are_dropped():
    release, calls = threading.Event(), []

    def run(key, items):
        calls.append((key, list(items)))
        if items == ["first"]:
            release.wait(10)
        return [f"{key}:{i}" for i in items]

    async def main():
        lane = BatchLane("t", run, max_batch=3)
        first = asyncio.ensure_future(lane.submit("a", "first"))
        await asyncio.sleep(0.05)  # "first" is running and blocks the lane
        queued = [asyncio.ensure_future(lane.submit(k, i)) for k, i in
                  [("a", 1), ("b", 2), ("a", 3), ("a", 4), ("a", 5)]]
        gone = asyncio.ensure_future(lane.submit("a", "left"))
        await asyncio.sleep(0.05)
        gone.cancel()  # its client disconnected while it waited
        release.set()
        out = await asyncio.gather(first, *queued)
        await lane.close()
        return out, lane

    out, lane = asyncio.run(main())
    assert out == ["a:first", "a:1", "b:2", "a:3", "a:4", "a:5"]
    assert calls == [("a", ["first"]), ("a", [1, 3, 4]), ("b", [2]), ("a", [5])]  # "left" never ran
    assert (lane.batches, lane.items, lane.dropped) == (4, 6, 1)


def test_an_error_reaches_every_request_of_its_batch():
    def run(key, items):
        raise ValueError("boom")

    async def main():
        lane = BatchLane("t", run)
        out = await asyncio.gather(lane.submit("a", 1), lane.submit("a", 2), return_exceptions=True)
        await lane.close()
        return out

    assert [str(e) for e in asyncio.run(main())] == ["boom", "boom"]
