"""The HTTP app: FastAPI routes over :class:`~lex_dpr.serve.service.SearchService`, batched, bounded.

Endpoints: ``POST /search``, ``POST /answer``, ``POST /embed`` (and the predecessor's ``/embed/passage`` and
``/embed/query``), OpenAI's ``POST /v1/embeddings``, ``GET /health``, ``POST /reload``, the page at ``/`` and
the OpenAPI docs at ``/docs``.

Every error a client can cause is one line of JSON, ``{"error": "..."}``: 413 for a body, a text list or a
text over the limits, 422 for a wrong type, a missing field, an empty text or a k over the limit, 400 for an
empty list, 408 for a body that does not arrive; anything else is a 500 with the exception's one-line message
(the traceback goes to the server's log, never to the client).

Example:
    >>> app = create_app(SearchService("index"), load_serve_config())  # doctest: +SKIP
    >>> import uvicorn; uvicorn.run(app, port=8000)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from importlib import resources
from typing import Any

import numpy as np
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from lex_dpr.errors import LexDprError
from lex_dpr.serve._body import BodyLimit
from lex_dpr.serve.batcher import BatchLane
from lex_dpr.serve.config import ServeConfig, ServeLimits
from lex_dpr.serve.schemas import (AnswerRequest, AnswerResponse, EmbedRequest, EmbedResponse, ErrorResponse,
                                   HealthResponse, LegacyEmbedRequest, OpenAIEmbeddingRequest,
                                   OpenAIEmbeddingResponse, SearchRequest, SearchResponse)
from lex_dpr.serve.service import SearchService, limit_threads

log = logging.getLogger(__name__)

ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (400, 408, 413, 422, 500)}


class RequestError(Exception):
    """A request the limits refuse: its status and one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _ClientGone(Exception):
    """The client disconnected while its request waited."""


def _json(obj: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY), status_code=status,
                    media_type="application/json")


def _error(status: int, message: str) -> Response:
    return _json({"error": " ".join(str(message).split())}, status)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    errors = exc.errors()
    if len(errors) == 1 and isinstance(errors[0].get("input"), bytes | str) and tuple(errors[0].get("loc", ())) == ("body",):
        return "the body is not a JSON object (send JSON with Content-Type: application/json)"
    for e in errors[:3]:
        if e.get("type") == "json_invalid":
            at = e.get("loc", ("body", "?"))[-1]
            parts.append(f"the body is not valid JSON ({(e.get('ctx') or {}).get('error', 'invalid')} at character {at})")
            continue
        loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
        got = repr(e.get("input"))
        got = got if len(got) <= 40 else got[:37] + "..."
        parts.append(f"{loc}: {e.get('msg', 'invalid')}" + ("" if e.get("type") == "missing" else f" (got {got})"))
    more = len(errors) - len(parts)
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_texts(texts: list[str], limits: ServeLimits, field: str = "texts") -> list[str]:
    """``texts`` within the limits: not empty, at most ``max_texts``, none blank or longer than ``max_text_chars``."""
    if not texts:
        raise RequestError(400, f"{field} list cannot be empty")
    if len(texts) > limits.max_texts:
        raise RequestError(413, f"{field}: {len(texts)} texts; at most {limits.max_texts} per request "
                                "(lex-dpr serve --max-texts)")
    for i, t in enumerate(texts):
        if not t.strip():
            raise RequestError(422, f"{field}[{i}] is empty")
        if not _encodable(t):
            raise RequestError(422, f"{field}[{i}] is not valid Unicode (a lone surrogate such as \\ud800)")
        if len(t) > limits.max_text_chars:
            raise RequestError(413, f"{field}[{i}] has {len(t)} characters; at most {limits.max_text_chars} "
                                    "(lex-dpr serve --max-text-chars)")
    return texts


def _check_question(req: SearchRequest, limits: ServeLimits) -> str:
    if not req.question.strip():
        raise RequestError(422, "question is empty")
    if len(req.question) > limits.max_text_chars:
        raise RequestError(413, f"question has {len(req.question)} characters; at most {limits.max_text_chars} "
                                "(lex-dpr serve --max-text-chars)")
    if not _encodable(req.question):
        raise RequestError(422, "question is not valid Unicode (a lone surrogate such as \\ud800)")
    question = req.question.strip()
    if req.k is not None and req.k > limits.max_k:
        raise RequestError(422, f"k: {req.k} is more than {limits.max_k} (lex-dpr serve --max-k)")
    return question


def page_html() -> str:
    return resources.files("lex_dpr.serve").joinpath("static/index.html").read_text(encoding="utf-8")


def create_app(service: SearchService, cfg: ServeConfig | None = None) -> FastAPI:
    """The app over an opened ``service``; ``cfg`` gives the limits and the reload interval."""
    cfg = cfg or ServeConfig()
    limits = cfg.limits

    def run_search(key, questions):
        k, mode, weight = key
        return service.search(questions, k=k, mode=mode, weight=weight)

    def run_answer(key, questions):
        k, mode, weight = key
        return service.answer(questions, k=k, mode=mode, weight=weight)

    def run_embed(key, batches):  # one encode for every request's texts, split back per request
        kind, normalize = key
        vectors = service.embed([t for texts in batches for t in texts], kind, normalize)
        out, at = [], 0
        for texts in batches:
            out.append(vectors[at: at + len(texts)])
            at += len(texts)
        return out

    threads = partial(limit_threads, cfg.threads)  # OpenMP's thread count is per thread: set it in each lane
    lanes = {name: BatchLane(name, run, limits.max_batch, threads)
             for name, run in (("search", run_search), ("answer", run_answer), ("embed", run_embed))}

    reloader = ThreadPoolExecutor(1, thread_name_prefix="lex-dpr-reload", initializer=threads)

    async def watch_index() -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(cfg.reload_interval_s)
            if service.changed():
                try:
                    await loop.run_in_executor(reloader, service.reload_if_changed)
                except Exception as exc:  # the old index keeps serving; the next tick tries again
                    log.warning("%s changed but could not be opened (%s); still serving the old index",
                                service.folder, " ".join(str(exc).split()))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        watcher = asyncio.get_running_loop().create_task(watch_index()) if cfg.reload_interval_s > 0 else None
        yield
        if watcher is not None:
            watcher.cancel()
        for lane in lanes.values():
            await lane.close()
        reloader.shutdown(wait=True)

    app = FastAPI(title="lex-dpr", version=_version(), lifespan=lifespan,
                  description="Korean legal retrieval: search an index, answer with cited articles, embed texts "
                              "(also OpenAI's /v1/embeddings). Errors are `{\"error\": \"...\"}`.")
    app.state.service, app.state.lanes = service, lanes

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        return _error(422, _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        return _error(exc.status_code, exc.detail)

    @app.exception_handler(RequestError)
    async def _refused(request: Request, exc: RequestError):
        return _error(exc.status, str(exc))

    @app.exception_handler(LexDprError)
    async def _lex(request: Request, exc: LexDprError):
        return _error(400, str(exc))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception):
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return _error(500, f"internal error ({type(exc).__name__}): {exc}")

    async def queued(request: Request, lane: str, key, item):
        """The lane's result, or _ClientGone when the client leaves first (its item then never runs)."""
        job = asyncio.ensure_future(lanes[lane].submit(key, item))
        gone = asyncio.ensure_future(_disconnected(request))
        done, _ = await asyncio.wait({job, gone}, return_when=asyncio.FIRST_COMPLETED)
        if job in done:
            gone.cancel()
            return job.result()
        job.cancel()
        raise _ClientGone

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page():
        return HTMLResponse(page_html())

    @app.get("/health", response_model=HealthResponse)
    async def health():
        """Server state, with the index's and the model's fingerprints (and the predecessor's two fields)."""
        lanes_seen = {name: {"requests": lane.items, "batches": lane.batches, "dropped": lane.dropped}
                      for name, lane in lanes.items()}
        return _json({**service.health(), "lanes": lanes_seen})

    @app.post("/reload", responses=ERRORS)
    async def reload():
        """Open the index folder again now (it is also checked every few seconds); the old one serves meanwhile."""
        changed = await asyncio.get_running_loop().run_in_executor(reloader, lambda: service.reload_if_changed(True))
        return _json({"reloaded": changed, **service.health()})

    @app.post("/search", response_model=SearchResponse, responses=ERRORS)
    async def search(req: SearchRequest, request: Request):
        """The ranked passages for a question: id, law, article, text, the fused score and the two it fused."""
        question = _check_question(req, limits)
        try:
            return _json(await queued(request, "search", (req.k, req.retrieval, req.weight), question))
        except _ClientGone:
            return Response(status_code=499)

    @app.post("/answer", response_model=AnswerResponse, responses=ERRORS)
    async def answer(req: AnswerRequest, request: Request):
        """``rag ask --json``: question type, cited contexts, the answer (the contexts without --llm), flags."""
        question = _check_question(req, limits)
        try:
            return _json(await queued(request, "answer", (req.k, req.retrieval, req.weight), question))
        except _ClientGone:
            return Response(status_code=499)

    async def embedded(request: Request, texts: list[str], kind: str, normalize: bool):
        check_texts(texts, limits)
        return await queued(request, "embed", (kind, normalize), texts)

    def shaped(vectors: np.ndarray) -> Response:
        return _json({"embeddings": vectors, "shape": list(vectors.shape), "count": int(vectors.shape[0])})

    @app.post("/embed", response_model=EmbedResponse, responses=ERRORS)
    async def embed(req: EmbedRequest, request: Request):
        """Vectors of texts as a query (the query prompt) or as passages; float32, normalised by default."""
        try:
            return shaped(await embedded(request, req.texts, req.kind, req.normalize))
        except _ClientGone:
            return Response(status_code=499)

    @app.post("/embed/passage", response_model=EmbedResponse, responses=ERRORS)
    async def embed_passage(req: LegacyEmbedRequest, request: Request):
        """The predecessor's passage embedding endpoint (same request and response)."""
        try:
            return shaped(await embedded(request, req.texts, "passage", req.normalize is not False))
        except _ClientGone:
            return Response(status_code=499)

    @app.post("/embed/query", response_model=EmbedResponse, responses=ERRORS)
    async def embed_query(req: LegacyEmbedRequest, request: Request):
        """The predecessor's query embedding endpoint (same request and response)."""
        try:
            return shaped(await embedded(request, req.texts, "query", req.normalize is not False))
        except _ClientGone:
            return Response(status_code=499)

    @app.post("/v1/embeddings", response_model=OpenAIEmbeddingResponse, responses=ERRORS)
    async def openai_embeddings(req: OpenAIEmbeddingRequest, request: Request):
        """OpenAI's embeddings API: ``openai``, LangChain and LlamaIndex clients work against it unchanged."""
        texts = [req.input] if isinstance(req.input, str) else list(req.input)
        if texts and not all(isinstance(t, str) for t in texts):
            raise RequestError(422, "input: token ids are not supported, send the texts (LangChain: "
                                    "OpenAIEmbeddings(check_embedding_ctx_length=False))")
        kind = "query" if req.model.lower().endswith("query") else "passage"
        try:
            vectors = await embedded(request, texts, kind, True)
        except _ClientGone:
            return Response(status_code=499)
        if req.dimensions is not None and req.dimensions != vectors.shape[1]:
            raise RequestError(422, f"dimensions: {req.dimensions}, but the model's vectors have {vectors.shape[1]}; "
                                    "omit dimensions")
        if req.encoding_format == "base64":
            data = [base64.b64encode(v.astype("<f4").tobytes()).decode("ascii") for v in vectors]
        else:
            data = list(vectors)
        tokens = sum(len(t.split()) for t in texts)
        return _json({"object": "list", "model": req.model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
                      "data": [{"object": "embedding", "index": i, "embedding": e} for i, e in enumerate(data)]})

    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes, timeout=limits.body_timeout_s)
    return app


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _version() -> str:
    from lex_dpr import __version__

    return __version__
