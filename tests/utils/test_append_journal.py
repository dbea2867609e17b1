"""lex_dpr.utils.journal: the one rule for a bad line. A torn last line (no newline) is dropped and cut away
before the next append; any other bad line is reported with its file and line, raised or collected."""

from __future__ import annotations

import pytest

from lex_dpr.errors import InputError
from lex_dpr.utils.io import BadLine
from lex_dpr.utils.journal import (Position, append, cut_torn_tail, open_append, read_journal, scan, truncate_after,
                                   whole_end)


def _values(path, **kw):
    return [e.value for e in read_journal(path, **kw)[0]]


def test_a_torn_last_line_is_dropped_and_cut_before_the_next_append(tmp_path):
    path = tmp_path / "j.jsonl"
    for tail in (b'{"n": ', b'{"n": 3}', b"\xec\xa0", b"   "):  # cut anywhere, even right before the newline
        path.write_bytes(b'{"n": 1}\n\n{"n": 2}\n' + tail)
        entries, pos = read_journal(path)
        assert [e.value for e in entries] == [{"n": 1}, {"n": 2}] and pos.torn and pos.offset == 19
        assert [(e.line, e.start, e.raw) for e in entries] == [(1, 0, b'{"n": 1}\n'), (3, 10, b'{"n": 2}\n')]
        with open_append(path) as fh:
            append(fh, [{"n": 3}])
        assert path.read_bytes() == b'{"n": 1}\n\n{"n": 2}\n{"n":3}\n'
    assert not cut_torn_tail(path) and not cut_torn_tail(tmp_path / "missing")
    assert read_journal(tmp_path / "missing") == ([], Position())


def test_a_bad_whole_line_is_reported_with_its_file_and_line_even_at_the_end(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_bytes(b'{"n": 1}\n{"n": \n[1]\n{"n": 4}\n{"cut"\n')
    with pytest.raises(InputError, match=rf"^{path}:2: invalid JSON \(.+\); start over$"):
        read_journal(path, fix="start over")
    bad: list[BadLine] = []
    check = lambda v: None if isinstance(v, dict) else "not an object"
    assert _values(path, check=check, bad=bad) == [{"n": 1}, {"n": 4}]
    assert [(b.line, b.reason.split(" (")[0]) for b in bad] == [(2, "invalid JSON"), (3, "not an object"),
                                                                (5, "invalid JSON")]
    before = path.read_bytes()
    open_append(path).close()
    assert path.read_bytes() == before  # damage is never cut away


def test_whole_end_finds_the_last_newline_far_back(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_bytes(b'{"n": 1}\n' + b"x" * 200_000)
    with path.open("rb") as fh:
        assert whole_end(fh) == 9
    path.write_bytes(b"x" * 100_000)
    with path.open("rb") as fh:
        assert whole_end(fh) == 0


def test_scan_follows_a_file_others_append_to(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_bytes(b'{"n": 1}\n{"n": ')
    pos = Position()
    with path.open("rb") as fh:
        assert [e.value for e in scan(fh, path, pos)] == [{"n": 1}] and pos.torn
    with open_append(path) as fh:
        append(fh, [{"n": 2}, {"n": 3}], sync=True)
    with path.open("rb") as fh:
        assert [(e.line, e.value) for e in scan(fh, path, pos)] == [(2, {"n": 2}), (3, {"n": 3})]
    assert not pos.torn and pos.offset == path.stat().st_size


def test_truncate_after_keeps_the_records_before_the_first_rejected_one(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(b"".join(b'{"step": %d}\n' % s for s in (10, 20, 30, 40)) + b'{"step": 5')
    assert truncate_after(path, lambda row: row["step"] <= 20) == 2
    assert path.read_bytes() == b'{"step": 10}\n{"step": 20}\n'
    assert truncate_after(path, lambda row: True) == 2 and path.read_bytes() == b'{"step": 10}\n{"step": 20}\n'
    assert truncate_after(tmp_path / "missing", lambda row: True) == 0
