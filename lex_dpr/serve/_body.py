"""A request body is read whole, bounded in size and time, before the app sees it.

A declared ``Content-Length`` over the limit is refused at once (413) without reading; a chunked body is cut
off (413) at the first byte past the limit; a client that stops sending for ``timeout`` seconds gets 408.
Every refusal is one line of JSON, ``{"error": "..."}``, and closes the connection.
"""

from __future__ import annotations

import asyncio

import orjson


async def send_error(send, status: int, message: str) -> None:
    body = orjson.dumps({"error": message})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """ASGI middleware: ``max_bytes`` per request body, ``timeout`` seconds per chunk."""

    def __init__(self, app, max_bytes: int, timeout: float) -> None:
        self.app, self.max_bytes, self.timeout = app, max_bytes, timeout

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await send_error(send, 400, f"Content-Length {declared.decode(errors='replace')!r} is not a number")
                return
            if size > self.max_bytes:
                await send_error(send, 413, f"the body has {size} bytes; at most {self.max_bytes} are accepted "
                                            "(lex-dpr serve --max-body-bytes)")
                return
        chunks, total = [], 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), self.timeout)
            except asyncio.TimeoutError:
                await send_error(send, 408, f"the body did not arrive within {self.timeout:g} s")
                return
            if message["type"] == "http.disconnect":
                return  # the client left before its request was complete: nothing to answer
            body = message.get("body", b"")
            total += len(body)
            if total > self.max_bytes:
                await send_error(send, 413, f"the body is larger than {self.max_bytes} bytes "
                                            "(lex-dpr serve --max-body-bytes)")
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        whole, delivered = b"".join(chunks), False

        async def replay():
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": whole, "more_body": False}
            return await receive()  # after the body: the disconnect, when it comes

        await self.app(scope, replay, send)
