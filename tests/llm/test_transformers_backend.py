"""The transformers backend end to end on a tiny random Qwen2: counts, order, limits, bans, seeds, batching."""

from __future__ import annotations

import logging
from collections import Counter

import pytest
from tiny_lm import build_tiny_lm

from lex_dpr.errors import ConfigError, InputError
from lex_dpr.llm.base import Generation, GenerationConfig, Generator
from lex_dpr.llm.open import open_generator

CONVERSATIONS = [
    [{"role": "user", "content": "민법 제750조의 요건은?"}],
    [{"role": "system", "content": "당신은 법률 도우미입니다."},
     {"role": "user", "content": "근로기준법 제23조에 따라 사용자가 근로자를 해고하려면 무엇이 필요한가요? 길게 답하세요."}],
    [{"role": "user", "content": "hi"}],
    [{"role": "user", "content": "대법원 2020다12345 판결의 결론은?"}],
    [{"role": "user", "content": "질문: 부당해고 구제신청은 어디에 하나요?"}],
]
GREEDY = GenerationConfig(max_new_tokens=10, batch_size=2)
SAMPLED = GenerationConfig(max_new_tokens=10, do_sample=True, temperature=1.5, top_p=1.0, top_k=0, seed=7)


def _token_ids(gen, text: str) -> list[int]:
    return gen.tokenizer.encode(text, add_special_tokens=False)


def _spy(gen, monkeypatch) -> list:
    """Record the new token ids of every ``model.generate`` call (the real call runs unchanged)."""
    generated, real = [], gen.model.generate

    def spy(**kwargs):
        out = real(**kwargs)
        generated.append(out[:, kwargs["input_ids"].shape[1]:])
        return out

    monkeypatch.setattr(gen.model, "generate", spy)
    return generated


def test_open_generator_loads_a_local_folder(tiny_lm):
    gen = open_generator(f"transformers:{tiny_lm}", GenerationConfig(), device="cpu")
    assert isinstance(gen, Generator)
    assert gen.name == f"transformers:{tiny_lm}"
    assert gen.fingerprint.startswith(gen.name + "@") and len(gen.fingerprint) == len(gen.name) + 13  # files' hash
    out = gen.generate(CONVERSATIONS[:2], GREEDY)
    assert [type(g) for g in out] == [Generation, Generation] and all(g.error is None for g in out)


def test_one_answer_per_conversation_in_order_and_batching_changes_nothing(tiny_generator):
    batched = tiny_generator.generate(CONVERSATIONS, GREEDY)  # 5 prompts of different lengths, left-padded by 2
    alone = [tiny_generator.generate([c], GREEDY)[0] for c in CONVERSATIONS]
    assert len(batched) == len(CONVERSATIONS)
    assert [g.text for g in batched] == [g.text for g in alone]
    assert [g.prompt_tokens for g in batched] == [g.prompt_tokens for g in alone]
    prompts = [len(_token_ids(tiny_generator, tiny_generator.prompt(c))) for c in CONVERSATIONS]
    assert [g.prompt_tokens for g in batched] == prompts  # padding is not counted, so the order is the input's


def test_max_new_tokens_is_respected(tiny_generator, monkeypatch):
    generated = _spy(tiny_generator, monkeypatch)
    for limit in (1, 4):
        out = tiny_generator.generate(CONVERSATIONS, GenerationConfig(max_new_tokens=limit, batch_size=3))
        assert all(1 <= g.completion_tokens <= limit for g in out)
    assert [ids.shape for ids in generated] == [(3, 1), (2, 1), (3, 4), (2, 4)]


def test_greedy_passes_no_sampling_flags(tiny_generator, capfd):
    tiny_generator.generate(CONVERSATIONS[:1], GenerationConfig(max_new_tokens=3, temperature=0.7, top_k=5))
    assert "generation flags" not in capfd.readouterr().err  # transformers warns when temperature etc. go with greedy


def test_a_seed_makes_sampling_repeatable(tiny_generator):
    first = [g.text for g in tiny_generator.generate(CONVERSATIONS, SAMPLED)]
    again = [g.text for g in tiny_generator.generate(CONVERSATIONS, SAMPLED)]
    other = [g.text for g in tiny_generator.generate(CONVERSATIONS, GenerationConfig(**{**vars(SAMPLED), "seed": 8}))]
    assert first == again
    assert first != other


def test_banned_token_ids_never_appear(tiny_generator, monkeypatch):
    """Ban the ids the model says most, then sample hundreds of tokens: none of them comes out."""
    generated = _spy(tiny_generator, monkeypatch)
    tiny_generator.generate(CONVERSATIONS, GenerationConfig(max_new_tokens=40))
    ends = {*tiny_generator._eos, tiny_generator.tokenizer.pad_token_id}  # an answer may end; padding follows
    counts = Counter(t for ids in generated for t in ids.flatten().tolist() if t not in ends)
    favourite = [t for t, _ in counts.most_common(8)]
    generated.clear()
    for seed in range(3):
        tiny_generator.generate(CONVERSATIONS, GenerationConfig(max_new_tokens=40, do_sample=True, temperature=1.0,
                                                                top_k=0, top_p=1.0, seed=seed,
                                                                banned_token_ids=favourite))
    sampled = [t for ids in generated for t in ids.flatten().tolist()]
    assert len(sampled) >= 400
    assert not set(favourite) & set(sampled)


def test_banned_strings_are_blocked_while_generating_and_stripped(tiny_generator, monkeypatch):
    """Ban a string the model says: its token sequences are never generated, and the text never shows it."""
    generated = _spy(tiny_generator, monkeypatch)
    tiny_generator.generate(CONVERSATIONS, GREEDY)
    said = [row for ids in generated for row in ids.tolist()]

    def sequences(word: str) -> list[list[int]]:
        return [tiny_generator.tokenizer.encode(v, add_special_tokens=False) for v in (word, " " + word)]

    # two tokens the model said that its tokenizer spells the same way (random weights also say half characters)
    word = next(w for w in (tiny_generator.tokenizer.decode(row[:2]) for row in said) if sequences(w)[0] in
                [row[:2] for row in said])
    generated.clear()
    banned = tiny_generator.generate(CONVERSATIONS, GenerationConfig(**{**vars(GREEDY), "banned_strings": [word]}))
    said = [row for ids in generated for row in ids.tolist()]
    assert len(banned) == len(CONVERSATIONS)
    assert not any(_contains(row, seq) for row in said for seq in sequences(word))
    assert all(word not in g.text for g in banned)


def _contains(row: list[int], seq: list[int]) -> bool:
    return any(row[i:i + len(seq)] == seq for i in range(len(row) - len(seq) + 1))


def test_a_banned_id_outside_the_vocabulary_is_a_config_error(tiny_generator):
    with pytest.raises(ConfigError, match=r"banned_token_ids: \[99999\] are outside"):
        tiny_generator.generate(CONVERSATIONS[:1], GenerationConfig(banned_token_ids=[99999]))


def test_no_chat_template_warns_once_and_falls_back_to_role_lines(tmp_path, caplog):
    from lex_dpr.llm.transformers_backend import TransformersGenerator

    gen = TransformersGenerator(str(build_tiny_lm(tmp_path / "base", chat_template=False)), GenerationConfig(),
                                device="cpu")
    with caplog.at_level(logging.WARNING, logger="lex_dpr.llm.transformers_backend"):
        out = gen.generate(CONVERSATIONS, GREEDY)
        gen.generate(CONVERSATIONS, GREEDY)
    assert len(out) == len(CONVERSATIONS) and all(g.error is None for g in out)
    assert [r.getMessage() for r in caplog.records].count(f"{gen.name} has no chat template: prompting with plain "
                                                          "'role: content' lines") == 1
    assert gen.prompt(CONVERSATIONS[1]) == ("system: 당신은 법률 도우미입니다.\nuser: "
                                            + CONVERSATIONS[1][1]["content"] + "\nassistant:")


def test_a_missing_model_offline_names_the_model_and_the_fix():
    with pytest.raises(InputError) as err:
        open_generator("transformers:nobody/no-such-model", GenerationConfig(), device="cpu")
    message = str(err.value)
    assert "nobody/no-such-model" in message and "HF_HUB_OFFLINE" in message and "local folder" in message
    assert "\n" not in message


def test_a_folder_that_is_not_a_model_says_so(tmp_path):
    with pytest.raises(InputError, match=r"has no config.json: pass a folder written by save_pretrained, or a hub id"):
        open_generator(f"transformers:{tmp_path}", GenerationConfig(), device="cpu")


@pytest.mark.parametrize("flag", ["load_in_8bit", "load_in_4bit"])
def test_quantization_without_cuda_is_a_config_error(tiny_lm, flag):
    with pytest.raises(ConfigError, match=r"needs a CUDA GPU and bitsandbytes; drop the flag"):
        open_generator(f"transformers:{tiny_lm}", GenerationConfig(**{flag: True}), device="cpu")


@pytest.mark.slow
@pytest.mark.parametrize("flag", ["load_in_8bit", "load_in_4bit"])
def test_quantized_on_cuda_still_answers_every_conversation(tiny_lm, flag):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    pytest.importorskip("bitsandbytes")
    gen = open_generator(f"transformers:{tiny_lm}", GenerationConfig(**{flag: True}), device="cuda")
    assert gen.fingerprint.endswith(":8bit" if flag == "load_in_8bit" else ":4bit")
    out = gen.generate(CONVERSATIONS, GREEDY)
    assert len(out) == len(CONVERSATIONS) and all(g.error is None and g.completion_tokens <= 10 for g in out)
