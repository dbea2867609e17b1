"""``--llm`` spec to generator: ``none``, ``transformers:MODEL`` or ``openai:URL``.

Nothing heavy is imported until a backend is chosen, so a bad spec fails before torch loads.

Example:
    >>> open_generator("none", GenerationConfig()) is None
    True
    >>> open_generator("gpt-4", GenerationConfig())
    Traceback (most recent call last):
    ...
    lex_dpr.errors.ConfigError: --llm 'gpt-4' is not one of: none (answer with the ranked contexts), transformers:MODEL (hub id or local folder), openai:URL (an OpenAI-compatible server, e.g. openai:http://127.0.0.1:8000/v1)
"""

from __future__ import annotations

from lex_dpr.errors import ConfigError
from lex_dpr.llm.base import GenerationConfig, Generator

FORMS = ("none (answer with the ranked contexts), transformers:MODEL (hub id or local folder), "
         "openai:URL (an OpenAI-compatible server, e.g. openai:http://127.0.0.1:8000/v1)")


def open_generator(spec: str, config: GenerationConfig, device: str | None = None) -> Generator | None:
    """The generator ``spec`` names, loaded and checked; ``None`` for ``none``.

    Args:
        spec: ``none``, ``transformers:MODEL`` or ``openai:URL``.
        config: loading settings (quantization, remote code, server, model, key, timeouts).
        device: for ``transformers:``; ``None`` picks CUDA when available.

    Raises:
        ConfigError: an unknown spec, an empty model or URL, or a setting the backend cannot honour.
        InputError: the model cannot be loaded or the server cannot be reached.
    """
    kind, sep, target = spec.strip().partition(":")
    kind = kind.lower()
    if kind == "none" and not sep:
        return None
    if sep and kind in ("transformers", "openai"):
        target = target.strip()
        if not target:
            raise ConfigError(f"--llm {spec!r} names no {'model' if kind == 'transformers' else 'URL'}: "
                              f"use one of: {FORMS}")
        problems = config.problems()
        if problems:
            raise ConfigError("; ".join(problems))
        if kind == "transformers":
            from lex_dpr.llm.transformers_backend import TransformersGenerator

            return TransformersGenerator(target, config, device=device)
        if not target.startswith(("http://", "https://")):
            raise ConfigError(f"--llm {spec!r}: the URL must start with http:// or https:// "
                              "(e.g. openai:http://127.0.0.1:8000/v1)")
        from lex_dpr.llm.openai_backend import OpenAIGenerator

        return OpenAIGenerator(target, config)
    raise ConfigError(f"--llm {spec!r} is not one of: {FORMS}")
