"""Load base + adapter, run classification prompts, and check that the outputs parse and vary.

"Parses 100% and every prediction is 0.0" is the failure this catches: an adapter whose outputs collapse
FAILs even when every output parsed. The same prompts through the base alone show whether the adapter
changes anything at all.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from pathlib import Path

from lex_dpr.audit.checks import AuditCheck
from lex_dpr.errors import InputError

PROMPTS = [
    "다음 판결이 손해배상 책임을 인정했으면 1, 아니면 0으로만 답하시오: 피고의 과실로 원고가 다쳤다.",
    "다음 조항이 개인정보 보호와 관련 있으면 1, 아니면 0: 개인정보처리자는 정보주체의 동의를 받아야 한다.",
    "Is this clause about criminal penalties? Answer 1 or 0: 3년 이하의 징역 또는 3천만원 이하의 벌금에 처한다.",
    "Rate from 0 to 10 how strongly the text concerns tax law: 소득세는 과세기간 종료 후 신고한다.",
    "Answer yes or no: does the text mention a contract? 매도인은 목적물을 인도하여야 한다.",
    "Is the statement true? Answer 1 or 0: 민법 제750조는 불법행위 책임을 정한다.",
    "Answer 1 if the text is about labour law, else 0: 사용자는 근로자에게 임금을 지급하여야 한다.",
    "Score 0-5 for legal relevance: 오늘 날씨가 맑다.",
    "Answer yes or no: is the lease period mentioned? 임대차 기간은 2년으로 한다.",
    "Is this an administrative rule? Answer 1 or 0: 이 훈령은 발령한 날부터 시행한다.",
    "Answer 1 or 0: does the text grant a right to delete data? 정보주체는 삭제를 요구할 수 있다.",
    "Rate 1 to 5 how formal the language is: 본 규정은 공포한 날부터 시행한다.",
]
MIN_STD = 0.05
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_YES = re.compile(r"\b(yes|true|예|네|맞다|그렇다)\b", re.IGNORECASE)
_NO = re.compile(r"\b(no|false|아니오|아니요|아니다)\b", re.IGNORECASE)


def parse_output(text: str) -> float | None:
    """Staged parser: a bare number, then the first number in the text, then yes/no words as 1/0.

    Example:
        >>> parse_output(" 1"), parse_output("The answer is 0.5 because"), parse_output("Yes."), parse_output("??")
        (1.0, 0.5, 1.0, None)
    """
    stripped = text.strip()
    if _NUMBER.fullmatch(stripped):
        return float(stripped)
    m = _NUMBER.search(stripped)
    if m:
        return float(m.group())
    if _YES.search(stripped):
        return 1.0
    if _NO.search(stripped):
        return 0.0
    return None


@dataclass
class OutputStats:
    parsed: int
    total: int
    mean: float | None
    std: float | None
    minimum: float | None
    maximum: float | None
    distinct: int

    @property
    def collapsed(self) -> bool:
        return self.parsed > 0 and (self.distinct <= 1 or (self.std is not None and self.std < MIN_STD))


def output_stats(outputs: list[str]) -> OutputStats:
    values = [v for v in (parse_output(o) for o in outputs) if v is not None]
    if not values:
        return OutputStats(0, len(outputs), None, None, None, None, len(set(outputs)))
    return OutputStats(len(values), len(outputs), statistics.fmean(values), statistics.pstdev(values), min(values),
                       max(values), len(set(values)))


def assess(adapter_outputs: list[str], base_outputs: list[str]) -> list[AuditCheck]:
    s = output_stats(adapter_outputs)
    rate = s.parsed / max(s.total, 1)
    dist = (f"mean {s.mean:.3f}, std {s.std:.3f}, min {s.minimum:g}, max {s.maximum:g}, {s.distinct} distinct"
            if s.parsed else "nothing parsed")
    checks = [AuditCheck("smoke: parse rate", "PASS" if rate >= 0.8 else "WARN" if rate >= 0.5 else "FAIL",
                    f"{s.parsed}/{s.total} outputs parsed"),
              AuditCheck("smoke: output spread", "FAIL" if s.collapsed or (not s.parsed and len(set(adapter_outputs)) <= 1)
                    else "PASS", dist + ("; outputs collapsed to a constant" if s.collapsed else ""))]
    changed = sum(a != b for a, b in zip(adapter_outputs, base_outputs, strict=True))
    checks.append(AuditCheck("smoke: adapter changes outputs", "PASS" if changed else "WARN",
                        f"{changed}/{len(base_outputs)} outputs differ from the base without the adapter"))
    return checks


def read_prompts(path: str | Path | None, samples: int) -> list[str]:
    if path is None:
        prompts = PROMPTS
    else:
        try:
            prompts = [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
        except OSError as exc:
            raise InputError(f"{path}: cannot read prompts ({exc.strerror})") from None
    if not prompts:
        raise InputError(f"{path}: no prompts")
    return [prompts[i % len(prompts)] for i in range(samples)]


def smoke_test(adapter: str | Path, base: str | Path, prompts: list[str], device: str | None = None,
               max_new_tokens: int = 8) -> list[AuditCheck]:
    """Generate with base + adapter and with the base alone (greedy, deterministic).

    Only safetensors weights are loaded: a pickle adapter or base is not run (its scan verdict is reported), so
    torch.load is never reached.
    """
    from lex_dpr.utils.lfs import require_no_lfs_pointers

    for folder in (base, adapter):
        if Path(folder).is_dir():
            require_no_lfs_pointers(folder)
    refused = [c for c in (_needs_safetensors(adapter, "adapter", "adapter_model.safetensors"),
                           _needs_safetensors(base, "base", "*.safetensors")) if c]
    if refused:
        return refused
    import torch
    from peft import PeftModel
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    config = AutoConfig.from_pretrained(base)
    if not any(a.endswith("ForCausalLM") for a in (config.architectures or [])) and \
            config.model_type not in ("qwen2", "qwen3", "llama", "mistral", "gemma", "gemma2", "phi3"):
        return [AuditCheck("smoke test", "WARN", f"base is {config.model_type}, not a causal LM: nothing to generate")]
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base, use_safetensors=True).to(device)
    model = PeftModel.from_pretrained(model, str(adapter)).to(device).eval()  # adapter_model.safetensors: checked
    with_adapter = _generate(model, tokenizer, prompts, device, max_new_tokens)
    with model.disable_adapter():
        without = _generate(model, tokenizer, prompts, device, max_new_tokens)
    return assess(with_adapter, without)


def _needs_safetensors(folder: str | Path, what: str, pattern: str) -> AuditCheck | None:
    """None when ``folder`` has the safetensors weights a loader reads first; else a one-line check naming its
    pickle files and their scan verdicts."""
    from lex_dpr.audit.headers import PICKLE_SUFFIXES
    from lex_dpr.audit.pickle_scan import scan_pickle_file

    folder = Path(folder)
    if not folder.is_dir() or any(folder.glob(pattern)):
        return None
    pickles = sorted(p for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
    scans = {p.name: scan_pickle_file(p) for p in pickles}
    found = "; ".join(f"{name} is a pickle, scan {scan.verdict()}" for name, scan in scans.items()) or "no weights"
    failed = any(scan.verdict().startswith("FAIL") for scan in scans.values())
    return AuditCheck("smoke test", "FAIL" if failed else "WARN",
                 f"not run: the smoke test loads only safetensors weights, and the {what} has no {pattern} ({found})")


def _generate(model, tokenizer, prompts: list[str], device: str, max_new_tokens: int) -> list[str]:
    import torch

    outputs = []
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    for prompt in prompts:
        enc = tokenizer(prompt, return_tensors="pt").to(device)
        with torch.no_grad():
            ids = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad)
        outputs.append(tokenizer.decode(ids[0, enc["input_ids"].shape[1]:], skip_special_tokens=True))
    return outputs
