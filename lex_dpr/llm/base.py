"""What every generator takes and returns: chat conversations in, one :class:`Generation` per conversation out.

A generator never raises for one bad request in a batch: that conversation's :class:`Generation` carries
the error (one line, what to fix) and the others go on. It raises :class:`~lex_dpr.errors.InputError` or
:class:`~lex_dpr.errors.ConfigError` only when nothing can work (model not found, server unreachable at
start-up, a bad setting).

Example:
    >>> class Echo:
    ...     name, fingerprint = "echo", "echo"
    ...     def generate(self, conversations, config):
    ...         return [Generation(c[-1]["content"]) for c in conversations]
    >>> isinstance(Echo(), Generator)
    True
    >>> Echo().generate([[{"role": "user", "content": "안녕"}]], GenerationConfig())[0].text
    '안녕'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol, runtime_checkable

import orjson

from lex_dpr.utils.config import setting
from lex_dpr.utils.hashing import sha256_hex

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": ...}


@dataclass
class GenerationConfig:
    """``generation.*``: sampling and limits, the same for every backend (each maps what it supports)."""

    temperature: float = setting(0.1, ge=0, le=2)
    top_p: float = setting(0.9, gt=0, le=1)
    top_k: int = setting(50, ge=0)  # 0: off
    max_new_tokens: int = setting(512, ge=1)
    do_sample: bool = False  # False: greedy (temperature, top_p, top_k unused)
    repetition_penalty: float = setting(1.05, gt=0)
    banned_strings: list[str] = field(default_factory=list)  # never generated (the seed blocked image tokens)
    banned_token_ids: list[int] = field(default_factory=list)
    seed: int = 0
    # transformers backend
    load_in_8bit: bool = False  # CUDA only, through bitsandbytes; several times slower than bf16
    load_in_4bit: bool = False
    llm_int8_threshold: float = setting(6.0, gt=0)
    trust_remote_code: bool = False
    batch_size: int = setting(8, ge=1)
    # openai backend
    model: str | None = None  # the served model's name (None: the server's first model)
    api_key: str | None = None  # None: $OPENAI_API_KEY, else "EMPTY" (local servers ignore it)
    concurrency: int = setting(8, ge=1)
    timeout: float = setting(60.0, gt=0)  # seconds to wait for one answer (a timeout is not retried)
    connect_timeout: float = setting(5.0, gt=0)  # seconds to connect, and for the model list at start
    max_retries: int = setting(2, ge=0)  # for refused connections and server errors (5xx, 429)

    def problems(self) -> list[str]:
        if self.load_in_8bit and self.load_in_4bit:
            return ["generation.load_in_8bit and generation.load_in_4bit are both set: choose one"]
        return []

    def fingerprint(self) -> str:
        """A short hash of the settings that change what is generated (cache keys)."""
        unused = ("api_key", "concurrency", "timeout", "connect_timeout", "max_retries", "batch_size")
        if not self.do_sample:  # greedy: the sampling settings change nothing
            unused += ("temperature", "top_p", "top_k", "seed")
        keep = {k: v for k, v in asdict(self).items() if k not in unused}
        return sha256_hex(orjson.dumps(keep, option=orjson.OPT_SORT_KEYS), 16)


@dataclass
class Generation:
    """One conversation's answer, or why there is none (``text`` empty, ``error`` one line)."""

    text: str
    error: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@runtime_checkable
class Generator(Protocol):
    """A backend: ``name`` for reports, ``fingerprint`` (model + backend) for cache keys."""

    name: str
    fingerprint: str

    def generate(self, conversations: Sequence[list[Message]], config: GenerationConfig) -> list[Generation]: ...
