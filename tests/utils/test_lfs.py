"""Git LFS pointers are recognised cheaply and named with the fix."""

from __future__ import annotations

import os

import pytest

from lex_dpr.errors import InputError
from lex_dpr.utils import lfs
from lex_dpr.utils.lfs import POINTER_EXAMPLE, is_lfs_pointer, lfs_pointers


def test_pointer_is_recognised_and_real_files_are_not(tmp_path):
    pointer = tmp_path / "model.safetensors"
    pointer.write_text(POINTER_EXAMPLE)
    old_style = tmp_path / "old.bin"
    old_style.write_text(POINTER_EXAMPLE.replace("git-lfs.github.com", "hawser.github.com"))
    big = tmp_path / "big.safetensors"
    big.write_bytes(POINTER_EXAMPLE.encode() + bytes(2048))  # a pointer's first bytes, but over 1 KiB
    json_file = tmp_path / "config.json"
    json_file.write_text('{"version": "https://git-lfs.github.com/spec/v1"}')
    assert is_lfs_pointer(pointer) and is_lfs_pointer(str(old_style))
    assert not any(is_lfs_pointer(p) for p in (big, json_file, tmp_path, tmp_path / "missing"))


def test_only_the_first_200_bytes_are_read(tmp_path, monkeypatch):
    pointer = tmp_path / "tokenizer.json"
    pointer.write_text(POINTER_EXAMPLE)
    sizes = []
    real_open = open

    class Spy:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def read(self, n=-1):
            sizes.append(n)
            return self.fh.read(n)

    monkeypatch.setattr(lfs, "open", lambda *a, **k: Spy(real_open(*a, **k)), raising=False)
    assert is_lfs_pointer(pointer)
    assert sizes == [200]


def test_symlinked_pointer_is_followed(tmp_path):
    blob = tmp_path / "blob"
    blob.write_text(POINTER_EXAMPLE)
    os.symlink(blob, tmp_path / "model.safetensors")
    assert is_lfs_pointer(tmp_path / "model.safetensors")
    os.symlink(tmp_path / "gone", tmp_path / "broken.safetensors")
    assert not is_lfs_pointer(tmp_path / "broken.safetensors")


def test_errors_are_one_line_naming_the_file_and_the_fix(tmp_path):
    model = tmp_path / "model"
    (model / "1_Pooling").mkdir(parents=True)
    (model / "config.json").write_text("{}")
    (model / "1_Pooling" / "config.json").write_text(POINTER_EXAMPLE)
    (model / "model.safetensors").write_text(POINTER_EXAMPLE)
    (model / ".git").mkdir()
    (model / ".git" / "x").write_text(POINTER_EXAMPLE)  # hidden folders are not model files
    assert lfs_pointers(model) == [model / "1_Pooling" / "config.json", model / "model.safetensors"]
    with pytest.raises(InputError) as caught:
        lfs.require_no_lfs_pointers(model)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{model / '1_Pooling' / 'config.json'}: a Git LFS pointer")
    assert "`git lfs pull`" in message and "1 more pointer(s)" in message
    with pytest.raises(InputError, match=r"model\.safetensors: a Git LFS pointer, not the file itself; run `git lfs"):
        lfs.require_not_lfs_pointer(model / "model.safetensors")
    lfs.require_not_lfs_pointer(model / "config.json")
    (model / "model.safetensors").unlink()
    (model / "1_Pooling" / "config.json").write_text("{}")
    lfs.require_no_lfs_pointers(model)
