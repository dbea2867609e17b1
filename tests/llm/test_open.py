"""``--llm`` specs: the three forms, and one-line errors for everything else (before anything heavy loads)."""

from __future__ import annotations

import pytest

from lex_dpr.errors import ConfigError
from lex_dpr.llm.base import GenerationConfig
from lex_dpr.llm.open import open_generator


@pytest.mark.parametrize("spec", ["none", "None", " none "])
def test_none_is_no_generator(spec):
    assert open_generator(spec, GenerationConfig()) is None


@pytest.mark.parametrize("spec", ["gpt-4", "", "none:x", "vllm:http://127.0.0.1:8000/v1", "transformers"])
def test_an_unknown_spec_lists_the_three_forms(spec):
    with pytest.raises(ConfigError) as err:
        open_generator(spec, GenerationConfig())
    assert str(err.value) == (f"--llm {spec!r} is not one of: none (answer with the ranked contexts), "
                              "transformers:MODEL (hub id or local folder), openai:URL (an OpenAI-compatible server, "
                              "e.g. openai:http://127.0.0.1:8000/v1)")


@pytest.mark.parametrize(("spec", "match"), [("transformers:", "names no model"), ("openai: ", "names no URL"),
                                             ("openai:127.0.0.1:8000/v1", "must start with http:// or https://")])
def test_an_empty_or_bad_target_says_so(spec, match):
    with pytest.raises(ConfigError, match=match):
        open_generator(spec, GenerationConfig())


def test_both_quantizations_at_once_is_a_config_error():
    with pytest.raises(ConfigError, match="both set: choose one"):
        open_generator("transformers:whatever", GenerationConfig(load_in_8bit=True, load_in_4bit=True))
