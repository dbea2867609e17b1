"""``lex-dpr serve``: the index over HTTP (search, answer, embeddings, OpenAI's embeddings API, a page)."""

from __future__ import annotations

from lex_dpr.serve.app import create_app
from lex_dpr.serve.batcher import BatchLane
from lex_dpr.serve.config import ServeConfig, ServeLimits, load_serve_config
from lex_dpr.serve.run import serve
from lex_dpr.serve.service import SearchService

__all__ = ["BatchLane", "SearchService", "ServeConfig", "ServeLimits", "create_app", "load_serve_config", "serve"]
