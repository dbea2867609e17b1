"""Settings of ``lex-dpr serve``: where it listens and how large a request may be.

Every bound has a sane default; ``lex-dpr serve --set limits.max_texts=64`` (or the matching flag) changes it,
and a value out of range is a :class:`~lex_dpr.errors.ConfigError` before the index opens.

Example:
    >>> cfg = load_serve_config(["limits.max_k=20", "port=9000"])
    >>> cfg.limits.max_k, cfg.port, cfg.host
    (20, 9000, '127.0.0.1')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from lex_dpr.utils import config as _config
from lex_dpr.utils.config import setting


@dataclass
class ServeLimits:
    """``limits.*``: what one request may ask for; beyond it the answer is a one-line 413 or 422."""

    max_body_bytes: int = setting(1 << 20, ge=64)  # a larger body is refused with 413 before it is parsed
    max_texts: int = setting(256, ge=1)  # texts per /embed (or /v1/embeddings) request
    max_text_chars: int = setting(4000, ge=1)  # characters per text or question
    max_k: int = setting(100, ge=1)  # passages per /search or /answer
    body_timeout_s: float = setting(10.0, gt=0)  # a client that sends its body slower than this gets 408
    max_batch: int = setting(64, ge=1)  # concurrent requests encoded together at most


@dataclass
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = setting(8000, ge=0, le=65535)  # 0: a free port, printed at start-up
    workers: int = setting(1, ge=1)  # server processes, each with the index open (memory-mapped, shared pages)
    threads: int = setting(1, ge=1)  # FAISS threads per worker (requests are batched; see service.limit_threads)
    reload_interval_s: float = setting(2.0, ge=0)  # how often the index folder is checked for a swap (0: never)
    drain_timeout_s: float = setting(30.0, gt=0)  # SIGTERM waits this long for in-flight requests
    limits: ServeLimits = field(default_factory=ServeLimits)


def load_serve_config(overrides: Sequence[str] | None = None) -> ServeConfig:
    """The defaults with ``overrides`` (``key=value``, dotted) applied, every problem reported at once."""
    return _config.load(ServeConfig, None, list(overrides or []))
