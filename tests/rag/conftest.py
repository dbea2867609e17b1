"""An index over the sample corpus (the static model trained on the sample, and BM25), built once per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "llm"))  # tiny_lm, shared with the LLM tests


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """No network: huggingface_hub reads $HF_HUB_OFFLINE once, at import, so its constant is set too."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


@pytest.fixture(scope="session")
def sample_index(sample_training_data, trained_run, tmp_path_factory) -> Path:
    from lex_dpr.retrieval.index import build_index

    out = tmp_path_factory.mktemp("rag") / "index"
    build_index(sample_training_data["passages"], out, model=str(trained_run))
    return out


@pytest.fixture
def index_copy(sample_index, tmp_path) -> Path:
    """A private copy (tests that write the index's settings or cache)."""
    import shutil

    return Path(shutil.copytree(sample_index, tmp_path / "index"))


def batch_command(index: Path, folder: Path, rows: int) -> tuple[list[str], dict[str, str], bytes]:
    """`rag batch` as a separate process over ``rows`` generated questions (``folder/q.jsonl``; a run long enough to
    kill part-way: batches of 8), its environment, and the answers of one clean run of it (``folder/clean.jsonl``)
    to hold a killed and resumed run to; the caller adds --output and the rest."""
    import os
    import subprocess

    import orjson

    asked = ["고의나 과실로 남에게 손해를 입히면 배상해야 하나요?", "계약을 해제하면 원상회복을 해야 하나요?",
             "채권의 소멸시효는 몇 년인가요?", "개인정보를 제3자에게 제공하려면 동의가 필요한가요?",
             "착오로 한 의사표시는 취소할 수 있나요?", "전세금을 올려 달라고 청구할 수 있나요?"]
    questions = folder / "q.jsonl"
    questions.write_bytes(b"".join(orjson.dumps({"id": f"q{i:04d}", "question": f"{asked[i % 6]} 사례 {i}"}) + b"\n"
                                   for i in range(rows)))
    cmd = [sys.executable, "-m", "lex_dpr.cli.main", "rag", "batch", "--index", str(index), "--input", str(questions),
           "--no-cache", "--quiet", "--set", "batch_size=8"]
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    clean = subprocess.run([*cmd, "--output", str(folder / "clean.jsonl")], env=env, capture_output=True, timeout=300)
    assert clean.returncode == 0, clean.stderr
    return cmd, env, (folder / "clean.jsonl").read_bytes()
