from collections import Counter

import orjson
import pytest

from lex_dpr.errors import InputError

from lex_dpr.llm.base import Generation
from lex_dpr.synth import run as synth_run
from lex_dpr.synth.llm import INSTRUCTIONS, build_prompt, parse_question
from lex_dpr.synth.run import SynthJob, journal_path, run_synth


@pytest.mark.parametrize("reply, question", [
    ("개인정보란 무엇인가요?", "개인정보란 무엇인가요?"),
    ("질문: 개인정보란 무엇인가요?\n답: 제2조", "개인정보란 무엇인가요?"),
    ("**질문**: 육아휴직은 어떻게 신청하나요?", "육아휴직은 어떻게 신청하나요?"),
    ("- \"해제와 해지는 어떻게 다른가요?\"", "해제와 해지는 어떻게 다른가요?"),
    ("```\n과징금은 언제까지 내야 하나요?\n```", "과징금은 언제까지 내야 하나요?"),
    ("<think>\nThe user wants a question.\n</think>\n\n보험계약을 해지하면 보험료를 돌려받나요?", "보험계약을 해지하면 보험료를 돌려받나요?"),
    ('{"question": "대부업 등록은 어디에 하나요?"}', "대부업 등록은 어디에 하나요?"),
    ("대부업 등록 절차가 궁금합니다", None),  # no question asked
    ("등록 요건을 알려 주실 수 있나요", "등록 요건을 알려 주실 수 있나요?"),
    ("Here is a question: What is a worker?", None),
    ("", None),
    ("<think>생각만 하다가 끝남", None),
])
def test_parse_question(reply, question):
    assert parse_question(reply) == question


def test_each_type_has_its_own_instruction(statute_records):
    passage = next(iter(statute_records.values()))
    prompts = {t: build_prompt(passage, t)[1]["content"] for t in INSTRUCTIONS}
    assert len(set(prompts.values())) == 6
    assert all(passage["title"] in p and INSTRUCTIONS[t] in p for t, p in prompts.items())


def _word(n: int) -> str:
    """Three Hangul syllables that differ for every n (distinct questions never look like near-duplicates)."""
    return "".join(chr(0xAC00 + (n * 7919 + i * 104729) % 11172) for i in range(3))


class FakeLLM:
    """Answers from a script, and records the sampling settings of every request."""

    name = fingerprint = "fake"

    def __init__(self):
        self.calls = []
        self.count = 0

    def generate(self, conversations, config):
        self.calls.append((len(conversations), config.temperature, config.do_sample))
        out = []
        for conv in conversations:
            text = conv[-1]["content"]
            law = text.split("다음은 ", 1)[1].split(" ", 1)[0]
            n = self.count = self.count + 1
            kind = n % 5
            out.append(Generation("", error="timeout after 60 s") if kind == 0 else
                       Generation("Sure, here you go.") if kind == 1 else
                       Generation("질문: 같은 질문은 무엇인가요?") if kind == 2 else
                       Generation(f"질문: {law}에서 {_word(n)}{_word(n + 1)}{_word(n + 2)}은 무엇인가요?"))
        return out


def test_llm_path_rotates_temperatures_and_counts_every_rejection(statute_passages, tmp_path, monkeypatch):
    fake = FakeLLM()
    monkeypatch.setattr("lex_dpr.llm.open.open_generator", lambda spec, config, device=None: fake)
    out = tmp_path / "s.jsonl"
    r = run_synth(SynthJob(passages=str(statute_passages), out=str(out), llm="openai:http://127.0.0.1:1/v1", n=30,
                           temperatures=[0.0, 0.7]), show_progress=False)
    temps = Counter(t for _, t, _ in fake.calls)
    assert set(temps) == {0.0, 0.7} and all(sample == (t > 0) for _, t, sample in fake.calls)
    assert all(size <= synth_run.LLM_BATCH for size, _, _ in fake.calls)
    s = r.summary
    assert s["written"] == 30 and s["rejected"]["error"] > 0 and s["rejected"]["unparsed"] > 0
    assert s["rejected"]["duplicate"] > 0  # "같은 질문" is kept once, then it is a duplicate
    assert set(s["per_temperature"]) == {"0.0", "0.7"}
    pairs = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert {p["meta"]["generator"] for p in pairs} == {"openai:http://127.0.0.1:1/v1"}
    assert {p["meta"]["temperature"] for p in pairs} == {0.0, 0.7}
    errors = [e for e in map(orjson.loads, journal_path(out).read_bytes().splitlines()[1:]) if e["status"] == "error"]
    assert errors and all(e["error"] == "timeout after 60 s" for e in errors)


@pytest.mark.slow
def test_tiny_lm_through_the_transformers_backend(statute_passages, tmp_path):
    """The real backend end to end; random weights write gibberish, so every answer is counted as dropped."""
    from tiny_lm import build_tiny_lm

    from lex_dpr.llm.base import GenerationConfig

    model = build_tiny_lm(tmp_path / "lm")
    passages = tmp_path / "few.jsonl"
    passages.write_bytes(b"\n".join(statute_passages.read_bytes().splitlines()[:5]) + b"\n")
    out = tmp_path / "s.jsonl"
    job = SynthJob(passages=str(passages), out=str(out), llm=f"transformers:{model}", n=2, types=["정의"],
                   temperatures=[0.1, 0.3, 0.4], device="cpu", generation=GenerationConfig(max_new_tokens=12))
    try:
        r = run_synth(job, show_progress=False)
    except InputError as exc:  # gibberish kept nothing: one line with the attempts counted, nothing written
        assert "no question kept (5 attempts:" in str(exc) and not out.exists()
        return
    s = r.summary
    assert s["attempted"] == 5 and s["written"] + sum(s["rejected"].values()) == 5
    assert set(s["per_temperature"]) == {"0.1", "0.3", "0.4"}
    assert s["short_types"] == (["정의"] if s["written"] < 2 else [])
