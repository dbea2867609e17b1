"""Staged commits: the new folder (or file) replaces the old one whole, by exchange or by two renames; a failure
or a kill between the renames leaves the old one."""

from __future__ import annotations

import pytest

from lex_dpr.utils import folders


@pytest.mark.parametrize("can_exchange", [True, False])
def test_commit_replaces_the_folder_and_removes_the_old(tmp_path, monkeypatch, can_exchange):
    if not can_exchange:
        monkeypatch.setattr(folders, "exchange", lambda a, b: False)
    dest, staged = tmp_path / "index", tmp_path / ".index.tmp"
    dest.mkdir()
    (dest / "x").write_text("old")
    staged.mkdir()
    (staged / "x").write_text("new")
    folders.commit_folder(staged, dest)
    assert (dest / "x").read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["index"]


def test_a_failed_write_leaves_the_old_folder(tmp_path):
    dest = tmp_path / "model"
    with folders.staged_folder(dest) as tmp:
        tmp.mkdir()
        (tmp / "w").write_text("v1")
    with pytest.raises(RuntimeError), folders.staged_folder(dest) as tmp:
        tmp.mkdir()
        (tmp / "w").write_text("half")
        raise RuntimeError("disk full")
    assert (dest / "w").read_text() == "v1" and sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_a_swap_cut_between_its_renames_is_undone(tmp_path):
    dest = tmp_path / "index"
    folders.old_path(dest).mkdir()
    (folders.old_path(dest) / "manifest.json").write_text("{}")
    assert not folders.restore_interrupted(dest, complete="other.json")
    assert folders.restore_interrupted(dest, complete="manifest.json")
    assert (dest / "manifest.json").is_file() and not folders.old_path(dest).exists()


def test_staged_file_is_whole_or_absent(tmp_path):
    dest = tmp_path / "dense.faiss"
    with folders.staged_file(dest) as tmp:
        tmp.write_bytes(b"one")
    with pytest.raises(OSError), folders.staged_file(dest) as tmp:
        tmp.write_bytes(b"tw")
        raise OSError(28, "No space left on device")
    assert dest.read_bytes() == b"one" and sorted(p.name for p in tmp_path.iterdir()) == ["dense.faiss"]
