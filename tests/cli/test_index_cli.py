"""`lex-dpr index build|update|info` through the CLI: tables, exit codes, one-line errors."""

from __future__ import annotations

import orjson
import pytest

from lex_dpr.retrieval.index import open_index, read_manifest
from lex_dpr.utils.io import write_jsonl
from _cli import lex_dpr


@pytest.fixture(scope="module")
def corpus(sample_training_data):
    return sample_training_data["passages"]


def test_build_update_info(corpus, trained_run, tmp_path):
    out = tmp_path / "index"
    result = lex_dpr(["index", "build", "--passages", str(corpus), "--model", str(trained_run), "--out", str(out),
                      "--faiss", "ivf", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "index build:" in result.output and "passages" in result.output and "41" in result.output
    assert read_manifest(out).dense.kind == "ivf"

    recs = [orjson.loads(line) for line in corpus.read_bytes().splitlines()]
    recs[0] = {**recs[0], "text": recs[0]["text"] + " 개정."}
    new = tmp_path / "new.jsonl"
    write_jsonl(new, recs[:-1])
    result = lex_dpr(["index", "update", str(out), "--passages", str(new)])
    assert result.exit_code == 0, result.output
    assert "index update:" in result.output
    lines = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in result.output.splitlines()
             if line.count("│") == 3}
    assert (lines["changed"], lines["removed"], lines["encoded"], lines["unchanged"]) == ("1", "1", "1", "39")
    assert f"changed: {recs[0]['id']}" in result.output and f"removed: {recs[-1]['id']}" in result.output
    result = lex_dpr(["index", "update", "--index", str(out), "--passages", str(corpus), "-q"])  # back again
    assert result.exit_code == 0, result.output
    assert open_index(out, dense=False).corpus.ids == [r["id"] for r in recs]

    result = lex_dpr(["index", "info", str(out)])
    assert result.exit_code == 0, result.output
    for key in ("model.fingerprint", "corpus_sha256", "dense.kind", "tokenizer.kiwipiepy", "lex_dpr_version",
                "build.seconds_total", "updates"):
        assert key in result.output, key
    result = lex_dpr(["index", "info", str(out), "--json"])
    assert result.exit_code == 0 and len(orjson.loads(result.output)["updates"]) == 2

    result = lex_dpr(["index", "update", str(out), "--passages", str(corpus), "--faiss", "flat"])  # ivf → flat
    assert result.exit_code == 0, result.output
    assert "FAISS" in result.output and "ivf → flat" in result.output
    assert read_manifest(out).dense.kind == "flat"
    result = lex_dpr(["index", "update", str(out), "--passages", str(corpus), "--faiss", "lsh"])
    assert result.exit_code == 2 and "error: --faiss 'lsh' is not one of flat, hnsw, ivf, ivfpq" in result.output


@pytest.mark.parametrize(("args", "code", "message"), [
    (["index", "build", "--passages", "{corpus}", "--out", "{tmp}/i"], 2,
     "error: the dense part needs a model: pass --model"),
    (["index", "build", "--passages", "{corpus}", "--out", "{tmp}/i", "--no-dense", "--no-bm25"], 2,
     "error: --no-dense and --no-bm25 together leave nothing to build"),
    (["index", "build", "--passages", "{corpus}", "--out", "{tmp}/i", "--model", "x", "--faiss", "lsh"], 2,
     "error: --faiss 'lsh' is not one of flat, hnsw, ivf, ivfpq"),
    (["index", "build", "--passages", "{tmp}/missing.jsonl", "--out", "{tmp}/i", "--no-dense"], 1,
     "missing.jsonl: file not found"),
    (["index", "update", "{tmp}/nothing", "--passages", "{corpus}"], 1,
     "error: {tmp}/nothing: not a lex-dpr index (no such folder); build one with `lex-dpr index build"),
    (["index", "update", "--passages", "{corpus}"], 2, "error: name the index folder once"),
    (["index", "info", "{tmp}"], 1, "not a lex-dpr index (no manifest.json)"),
])
def test_errors_are_one_line(args, code, message, corpus, tmp_path):
    fill = {"corpus": str(corpus), "tmp": str(tmp_path)}
    result = lex_dpr([a.format(**fill) for a in args])
    assert result.exit_code == code, result.output
    assert message.format(**fill) in result.output.replace("\n", "") and "Traceback" not in result.output
    assert not (tmp_path / "i").exists()


def test_bm25_only_build_needs_no_model(corpus, tmp_path):
    out = tmp_path / "bm25"
    result = lex_dpr(["index", "build", "--passages", str(corpus), "--no-dense", "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert "BM25 vocabulary" in result.output and "model" not in result.output.split("BM25")[0].split("passages")[1]
    assert open_index(out).dense is None
