"""Hostile input files for the data commands: empty, a folder, BOM/CRLF/gzip, odd field types.

Each is either read like a clean file or refused with one line naming it; none is a traceback.
"""

from __future__ import annotations

import gzip

import orjson
import pytest

from lex_dpr.data.merge import merge_corpus
from lex_dpr.data.stats import corpus_stats
from lex_dpr.data.validate import validate
from lex_dpr.errors import InputError
from _cli import lex_dpr


def _one_error(result, exit_code: int = 1) -> str:
    assert result.exit_code == exit_code and type(result.exception) is SystemExit, (result.output, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output, result.stderr
    return lines[0]


def test_empty_files(sample_training_data, sample_passages, sample_dir, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    d = sample_training_data
    report = validate([empty], [d["passages"]])
    assert report.errors == 1 and report.findings[0].check == "no pairs"
    assert validate([d["pairs"]], [empty]).counts["error: no passages"] == 1
    with pytest.raises(InputError, match="empty.jsonl: no passages"):
        corpus_stats(empty, out_dir=tmp_path / "stats")
    with pytest.raises(InputError, match="no passages in .*empty.jsonl"):
        merge_corpus([empty, empty], tmp_path / "merged.jsonl")
    assert not (tmp_path / "merged.jsonl").exists()
    line = _one_error(lex_dpr(["make-pairs", "--law", str(empty), "--prec-json-dir", str(sample_dir / "precedents"),
                               "--out", str(tmp_path / "p.jsonl")]))
    assert line == f"error: {empty}: no passages (run `lex-dpr preprocess` first)"
    (tmp_path / "precs").mkdir()
    line = _one_error(lex_dpr(["make-pairs", "--law", str(sample_passages["law"]), "--prec-json-dir",
                               str(tmp_path / "precs"), "--out", str(tmp_path / "p.jsonl")]))
    assert line.startswith(f"error: {tmp_path / 'precs'}: no files match '**/*.json'")
    (tmp_path / "precs" / "law.json").write_bytes((sample_dir / "laws").rglob("*.json").__next__().read_bytes())
    result = lex_dpr(["make-pairs", "--law", str(sample_passages["law"]), "--prec-json-dir", str(tmp_path / "precs"),
                      "--out", str(tmp_path / "p.jsonl")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert [x for x in result.stderr.splitlines() if x] == [  # the skipped file's warning, then the error
        f"warning: {tmp_path / 'precs' / 'law.json'}: not a precedent",
        f"error: {tmp_path / 'precs'}: none of the 1 file(s) is a readable precedent "
        f"({tmp_path / 'precs' / 'law.json'}: not a precedent)"]
    assert not (tmp_path / "p.jsonl").exists()


@pytest.mark.parametrize("command", ["validate", "stats", "merge-corpus", "eval", "make-pairs"])
def test_a_folder_given_as_the_passages_file(command, sample_training_data, sample_dir, tmp_path):
    d = sample_training_data
    args = {"validate": ["validate", "--pairs", str(d["pairs"]), "--passages", str(tmp_path)],
            "stats": ["stats", "--passages", str(tmp_path), "--out-dir", str(tmp_path / "s")],
            "merge-corpus": ["merge-corpus", "--law", str(tmp_path), "--out", str(tmp_path / "m.jsonl")],
            "eval": ["eval", "--passages", str(tmp_path), "--pairs", str(d["valid_pairs"]), "--baseline", "bm25"],
            "make-pairs": ["make-pairs", "--law", str(tmp_path), "--prec-json-dir", str(sample_dir / "precedents"),
                           "--out", str(tmp_path / "p.jsonl")]}[command]
    assert _one_error(lex_dpr(args)) == f"error: {tmp_path}: is a folder, not a JSONL file"


def test_bom_crlf_and_gzip_copies_validate_and_mine_like_the_originals(sample_training_data, sample_passages,
                                                                      sample_dir, tmp_path):
    d = sample_training_data
    variants = {}
    for name, path in (("pairs", d["pairs"]), ("valid", d["valid_pairs"]), ("passages", d["passages"])):
        raw = path.read_bytes()
        variants[name] = {"bom": b"\xef\xbb\xbf" + raw, "crlf": raw.replace(b"\n", b"\r\n"), "gz": gzip.compress(raw)}
    for kind in ("bom", "crlf", "gz"):
        files = {}
        for name, data in variants.items():
            files[name] = tmp_path / f"{name}.{kind}.jsonl"
            files[name].write_bytes(data[kind])
        report = validate([files["pairs"], files["valid"]], [files["passages"]])
        assert report.errors == 0 and report.counts["pairs"] == validate([d["pairs"], d["valid_pairs"]],
                                                                         [d["passages"]]).counts["pairs"], kind
    law = tmp_path / "law.gz.jsonl"
    law.write_bytes(gzip.compress(b"\xef\xbb\xbf" + sample_passages["law"].read_bytes().replace(b"\n", b"\r\n")))
    result = lex_dpr(["make-pairs", "--law", str(law), "--prec-json-dir", str(sample_dir / "precedents"),
                      "--out", str(tmp_path / "a" / "p.jsonl"), "--negatives", "random", "--no-cache", "-q"])
    plain = lex_dpr(["make-pairs", "--law", str(sample_passages["law"]), "--prec-json-dir",
                     str(sample_dir / "precedents"), "--out", str(tmp_path / "b" / "p.jsonl"), "--negatives",
                     "random", "--no-cache", "-q"])
    assert result.exit_code == plain.exit_code == 0, result.stderr
    assert (tmp_path / "a" / "p.jsonl").read_bytes() == (tmp_path / "b" / "p.jsonl").read_bytes()


def test_fields_of_the_wrong_type_are_findings_not_crashes(sample_training_data, tmp_path):
    d = sample_training_data
    pair = orjson.loads(d["pairs"].read_bytes().splitlines()[0])
    hostile = [dict(pair, query_id="h1", positive_passages="LAW_001706_제750조"),
               dict(pair, query_id="h2", hard_negatives=[["nested"]], meta=["not", "a", "dict"]),
               dict(pair, query_id="h3", positive_passages=[1, 2], meta=None)]
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(b"".join(orjson.dumps(p) + b"\n" for p in hostile))
    report = validate([path], [d["passages"]])
    assert report.counts["error: malformed pair"] == 3
    stats = corpus_stats(d["passages"], [path], out_dir=tmp_path / "stats")
    assert stats["pairs"]["queries"] == 3 and stats["pairs"]["by_type"] == {"prec": 1, "?": 2}
    passages = tmp_path / "p.jsonl"
    passages.write_bytes(b'{"id": ["x"], "text": "a"}\n{"id": 7, "text": "b"}\n{"id": "ok", "text": "c"}\n')
    merged = merge_corpus([passages], tmp_path / "m.jsonl")
    assert merged.passages == 1 and len(merged.bad_lines) == 2
