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

from pathlib import Path

from lex_dpr.errors import ConfigError, InputError
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
        InputError: the model cannot be loaded (a local folder that is not there) or the server cannot be reached.
    """
    kind, target = check_spec(spec)
    if kind == "none":
        return None
    problems = config.problems()
    if problems:
        raise ConfigError("; ".join(problems))
    if kind == "transformers":
        from lex_dpr.llm.transformers_backend import TransformersGenerator

        return TransformersGenerator(target, config, device=device)
    from lex_dpr.llm.openai_backend import OpenAIGenerator

    return OpenAIGenerator(target, config)


def check_spec(spec: str) -> tuple[str, str]:
    """``(kind, target)`` of an ``--llm`` spec, checked without loading anything (the CLI calls it before the
    index opens).

    Raises:
        ConfigError: an unknown form, an empty model or URL, a URL without http(s)://.
        InputError: a local model folder that is not there.

    Example:
        >>> check_spec("openai:http://127.0.0.1:8000/v1")
        ('openai', 'http://127.0.0.1:8000/v1')
        >>> check_spec("transformers:/nonexistent")
        Traceback (most recent call last):
        lex_dpr.errors.InputError: --llm 'transformers:/nonexistent': /nonexistent: no such folder; pass a model folder written by save_pretrained (with config.json), or a hub id such as transformers:Qwen/Qwen2.5-7B-Instruct
    """
    kind, sep, target = spec.strip().partition(":")
    kind = kind.lower()
    if kind == "none" and not sep:
        return "none", ""
    if not sep or kind not in ("transformers", "openai"):
        raise ConfigError(f"--llm {spec!r} is not one of: {FORMS}")
    target = target.strip()
    if not target:
        raise ConfigError(f"--llm {spec!r} names no {'model' if kind == 'transformers' else 'URL'}: "
                          f"use one of: {FORMS}")
    if kind == "transformers" and _looks_like_path(target) and not Path(target).expanduser().is_dir():
        what = "a file, not a folder" if Path(target).expanduser().exists() else "no such folder"
        raise InputError(f"--llm {spec!r}: {target}: {what}; pass a model folder written by save_pretrained "
                         "(with config.json), or a hub id such as transformers:Qwen/Qwen2.5-7B-Instruct")
    if kind == "openai" and not target.startswith(("http://", "https://")):
        raise ConfigError(f"--llm {spec!r}: the URL must start with http:// or https:// "
                          "(e.g. openai:http://127.0.0.1:8000/v1)")
    return kind, target


def _looks_like_path(target: str) -> bool:
    """A local path rather than a hub id (``org/name``): absolute, relative, home, or with more than one ``/``.

    Example:
        >>> [_looks_like_path(t) for t in ("/models/qwen", "./qwen", "~/qwen", "a/b/c", "Qwen/Qwen2.5-7B", "gpt2")]
        [True, True, True, True, False, False]
    """
    return target.startswith(("/", ".", "~")) or target.count("/") > 1 or "\\" in target
