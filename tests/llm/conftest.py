"""The tiny causal LM, built once per session (pytest puts this folder on sys.path, so tests import tiny_lm)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_lm import build_tiny_lm


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """No network: huggingface_hub reads $HF_HUB_OFFLINE once, at import, so its constant is set too."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


@pytest.fixture(scope="session")
def tiny_lm(tmp_path_factory) -> Path:
    """A folder with a 2-layer random Qwen2 causal LM, its byte-level BPE tokenizer and a Qwen chat template."""
    return build_tiny_lm(tmp_path_factory.mktemp("tiny_lm") / "model")


@pytest.fixture(scope="session")
def tiny_generator(tiny_lm):
    """The tiny LM loaded once on CPU behind the transformers backend (generation never changes it)."""
    from lex_dpr.llm.base import GenerationConfig
    from lex_dpr.llm.transformers_backend import TransformersGenerator

    return TransformersGenerator(str(tiny_lm), GenerationConfig(), device="cpu")
