"""lex-dpr serve"""

from __future__ import annotations

from typing import Annotated

import typer

from lex_dpr.cli import _console as console
from lex_dpr.cli.rag import (ConfigOpt, DeviceOpt, IndexOpt, Int4Opt, Int8Opt, KOpt, LlmModelOpt, LlmOpt, ModelOpt,
                             RetrievalOpt, SetOpt, TemplatesOpt, WeightOpt, _overrides)

EXAMPLES = [
    "lex-dpr serve --index out/shared/index     # http://127.0.0.1:8000, the page at /, the API docs at /docs",
    "lex-dpr serve --index index/ --llm openai:http://127.0.0.1:8001/v1 --port 8080 --workers 2",
    "lex-dpr serve --index index/ --host 0.0.0.0 --max-texts 64 --max-k 20",
    "curl -s 127.0.0.1:8000/search -H 'content-type: application/json' -d '{\"question\": \"불법행위 손해배상 책임\", \"k\": 3}'",
]


def command(index: IndexOpt,
            host: Annotated[str, typer.Option("--host", help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
            port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port (0: a free one, printed at start-up).")] = 8000,
            workers: Annotated[int, typer.Option("--workers", min=1, help="Server processes, each with the index open.")] = 1,
            threads: Annotated[int, typer.Option("--threads", min=1, help="FAISS threads per worker (default 1: requests are batched instead).")] = 1,
            retrieval: RetrievalOpt = None, weight: WeightOpt = None, k: KOpt = None, llm: LlmOpt = None,
            llm_model: LlmModelOpt = None, load_in_8bit: Int8Opt = False, load_in_4bit: Int4Opt = False,
            templates: TemplatesOpt = None, config: ConfigOpt = None, set_: SetOpt = None, model: ModelOpt = None,
            device: DeviceOpt = None,
            max_body_bytes: Annotated[int | None, typer.Option("--max-body-bytes", help="Largest request body (default 1 MiB); larger: 413.")] = None,
            max_texts: Annotated[int | None, typer.Option("--max-texts", help="Texts per /embed request (default 256); more: 413.")] = None,
            max_text_chars: Annotated[int | None, typer.Option("--max-text-chars", help="Characters per text or question (default 4000); more: 413.")] = None,
            max_k: Annotated[int | None, typer.Option("--max-k", help="Largest k a request may ask for (default 100); more: 422.")] = None,
            body_timeout: Annotated[float | None, typer.Option("--body-timeout", help="Seconds a client may pause while sending a body (default 10); longer: 408.")] = None,
            reload_interval: Annotated[float | None, typer.Option("--reload-interval", help="Seconds between checks for an index swapped by `index update` (0: only POST /reload; default 2).")] = None) -> None:
    """Serve an index over HTTP: /search, /answer, /embed, OpenAI's /v1/embeddings, a page at / and docs at /docs."""
    from lex_dpr.serve.config import load_serve_config
    from lex_dpr.serve.run import serve

    settings = [f"host={host}", f"port={port}", f"workers={workers}", f"threads={threads}"]
    for key, value in (("limits.max_body_bytes", max_body_bytes), ("limits.max_texts", max_texts),
                       ("limits.max_text_chars", max_text_chars), ("limits.max_k", max_k),
                       ("limits.body_timeout_s", body_timeout),
                       ("reload_interval_s", reload_interval)):
        if value is not None:
            settings.append(f"{key}={value}")
    cfg = load_serve_config(settings)  # a bad limit fails before the index and the model load
    code = serve(index, cfg, config, _overrides(retrieval, weight, k, llm, llm_model, load_in_8bit, load_in_4bit,
                                                templates, set_), model, device)
    if code:
        console.problem("SIGTERM: requests in flight were answered, then the server stopped" if code == 143
                        else "Ctrl-C: the server stopped", "interrupted")
        raise typer.Exit(code)
