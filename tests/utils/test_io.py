"""Hostile inputs and outputs for lex_dpr.utils.io: unwritable paths, full disks, BOM, CRLF, gzip, folders."""

from __future__ import annotations

import errno
import gzip
import os
import random
import stat

import pytest

from lex_dpr.errors import InputError
from lex_dpr.utils.io import (BadLine, WriteError, atomic_open, ensure_writable, folder_lock, iter_jsonl,
                              iter_passages, write_jsonl)


def test_ensure_writable_creates_missing_folders_and_leaves_nothing(tmp_path):
    assert ensure_writable(tmp_path / "a" / "b" / "out.jsonl") == tmp_path / "a" / "b"
    assert ensure_writable(tmp_path / "stats", folder=True) == tmp_path / "stats"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "b", "stats"]


def test_ensure_writable_under_a_file_is_one_line_for_root_too(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError) as caught:
        ensure_writable(tmp_path / "file" / "sub" / "out.jsonl", flag="--out-law")
    assert str(caught.value) == (f"cannot write {tmp_path / 'file' / 'sub'} (a part of the path is a file, not a "
                                 "folder); choose another --out-law")
    with pytest.raises(InputError, match="is a folder; --output takes a file name"):
        ensure_writable(tmp_path, flag="--output")


def test_ensure_writable_in_a_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)  # 0o555
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as root: permission bits do not stop writes (the under-a-file test covers it)")
        with pytest.raises(InputError) as caught:
            ensure_writable(ro / "out.jsonl")
        assert str(caught.value) == (f"cannot write {ro} (no permission); choose another --out "
                                     "(read-only folder or no permission)")
    finally:
        ro.chmod(0o755)


@pytest.mark.parametrize(("code", "reason"), [(errno.EACCES, "no permission"), (errno.EROFS, "read-only file system")])
def test_ensure_writable_when_the_system_refuses(tmp_path, monkeypatch, code, reason):
    """What a read-only mount or missing permission looks like, for root too (chmod does not stop root)."""
    import tempfile

    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code), str(tmp_path / ".lexdpr-write-check.x.tmp"))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(InputError) as caught:
        ensure_writable(tmp_path / "out.jsonl", flag="--output")
    assert str(caught.value) == (f"cannot write {tmp_path} ({reason}); choose another --output "
                                 "(read-only folder or no permission)")


def test_atomic_open_turns_a_full_disk_into_one_line_and_keeps_the_old_file(tmp_path, monkeypatch):
    out = tmp_path / "pairs.jsonl"
    out.write_bytes(b'{"old": 1}\n')
    real_fsync = os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(WriteError) as caught:
        write_jsonl(out, [{"new": i} for i in range(1000)])
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert str(caught.value) == f"cannot write {out} (no space left on device); free space or choose another output path"
    assert isinstance(caught.value, OSError) and caught.value.errno == errno.ENOSPC  # callers catching OSError still do
    assert out.read_bytes() == b'{"old": 1}\n' and sorted(p.name for p in tmp_path.iterdir()) == ["pairs.jsonl"]


def test_atomic_open_under_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(WriteError, match=r"cannot write .*file/out.json \(a part of the path is a file"):
        with atomic_open(tmp_path / "file" / "out.json") as fh:
            fh.write(b"{}")


def test_an_error_of_the_callers_own_is_not_called_a_write_error(tmp_path):
    with pytest.raises(PermissionError):
        with atomic_open(tmp_path / "out.json"):
            raise PermissionError(errno.EACCES, "Permission denied", "/some/input")
    assert list(tmp_path.iterdir()) == []


def test_bom_crlf_and_gzip_read_like_plain_jsonl(tmp_path):
    rows = b'{"id": "a", "text": "x"}\n{"id": "b", "text": "y"}\n'
    variants = {"plain.jsonl": rows, "bom.jsonl": b"\xef\xbb\xbf" + rows, "crlf.jsonl": rows.replace(b"\n", b"\r\n"),
                "gz.jsonl": gzip.compress(rows), "x.jsonl.gz": gzip.compress(b"\xef\xbb\xbf" + rows)}
    for name, data in variants.items():
        (tmp_path / name).write_bytes(data)
        bad: list[BadLine] = []
        assert [p["id"] for p in iter_passages(tmp_path / name, bad)] == ["a", "b"] and bad == [], name


@pytest.mark.parametrize(("data", "message"), [
    (b"PK\x03\x04rest", "a zip archive, not JSON Lines; decompress it first"),
    (b"\x28\xb5\x2f\xfdrest", "zstd-compressed, not JSON Lines; decompress it first"),
    ('{"id": "a"}\n'.encode("utf-16"), "UTF-16 text, not JSON Lines; save it as UTF-8"),
    (gzip.compress(b'{"id": "a", "text": "x"}\n' * 50)[:40], "cannot read"),  # a truncated download
])
def test_other_encodings_are_one_line(tmp_path, data, message):
    path = tmp_path / "p.jsonl"
    path.write_bytes(data)
    with pytest.raises(InputError, match=message):
        list(iter_jsonl(path, []))


def test_a_file_that_is_not_jsonl_at_all_is_one_error_not_a_bad_line_each(tmp_path):
    path = tmp_path / "random.jsonl"
    path.write_bytes(b"\x00" + random.Random(0).randbytes(1 << 20))
    bad: list[BadLine] = []
    with pytest.raises(InputError, match=r"random.jsonl: not JSON Lines \(the first 100 lines are not JSON objects"):
        list(iter_jsonl(path, bad))
    pretty = tmp_path / "pretty.jsonl"  # a JSON document given as JSONL: a few bad lines, then none good
    pretty.write_text('{\n  "id": "a",\n  "text": "x"\n}\n')
    bad = []
    assert list(iter_jsonl(pretty, bad)) == [] and len(bad) == 4


def test_a_folder_or_an_empty_file_as_input(tmp_path):
    with pytest.raises(InputError, match=f"^{tmp_path}: is a folder, not a JSONL file$"):
        list(iter_jsonl(tmp_path))
    (tmp_path / "empty.jsonl").write_bytes(b"")
    assert list(iter_jsonl(tmp_path / "empty.jsonl")) == []


def test_folder_lock_refuses_a_second_holder(tmp_path):
    with folder_lock(tmp_path, ".x.lock", "x run"):
        with pytest.raises(InputError, match=rf"\.x\.lock is held by another x run \(pid {os.getpid()}\)"):
            with folder_lock(tmp_path, ".x.lock", "x run"):
                pass
    with folder_lock(tmp_path, ".x.lock", "x run"):  # released on exit
        pass


def test_the_garbage_collector_comes_back_after_a_bulk_read_even_when_it_fails(tmp_path):
    import gc

    from lex_dpr.data.corpus import read_corpus
    from lex_dpr.utils.io import gc_paused

    path = tmp_path / "p.jsonl"
    path.write_text('{"id": "a", "text": "x", "title": "민법"}\n{"id": "b", "text": "y"}\n', encoding="utf-8")
    corpus = read_corpus(path)
    assert gc.isenabled() and corpus.texts == ["x", "y"] and corpus.records == [{"id": "a", "title": "민법"}, {"id": "b"}]
    with pytest.raises(RuntimeError, match="mid-read"):
        with gc_paused():
            assert not gc.isenabled()
            raise RuntimeError("mid-read")
    assert gc.isenabled()
    gc.disable()  # a caller that had it off keeps it off
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
