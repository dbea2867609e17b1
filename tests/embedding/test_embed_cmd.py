"""`lex-dpr embed`: the predecessor's files, vectors equal to search's, skipped bad lines, resume after a kill."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from _cli import lex_dpr
from lex_dpr.data.corpus import read_corpus, read_pairs
from lex_dpr.models.loading import load_query_encoder
from lex_dpr.retrieval.index import encode as store
from lex_dpr.retrieval.dense import DenseRetriever, encode_passages
from lex_dpr.retrieval.embed import embed_jsonl, load_embeddings


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()
            and not p.name.startswith(".")}


def test_passages_in_the_predecessors_layout(sample_training_data, trained_run, tmp_path):
    corpus = read_corpus(sample_training_data["passages"])
    out = tmp_path / "embeds"
    result = lex_dpr(["embed", "--model", str(trained_run), "--input", str(sample_training_data["passages"]),
                      "--outdir", str(out), "--prefix", "passages", "--type", "passage", "--output-format", "both",
                      "--shard-size", "7", "--quiet"])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir() if not p.name.startswith(".")} == {
        "passages.npz", "passages_ids.npy", "passages_embeds.npy", "passages.json"}
    with np.load(out / "passages.npz", allow_pickle=False) as npz:  # no pickled object arrays
        assert sorted(npz.files) == ["embeddings", "ids"]
        ids, vectors = npz["ids"].tolist(), npz["embeddings"]
    assert ids == corpus.ids and vectors.dtype == np.float32 and vectors.shape == (len(corpus), 16)
    assert np.load(out / "passages_ids.npy", allow_pickle=False).tolist() == ids
    assert np.array_equal(np.load(out / "passages_embeds.npy", allow_pickle=False), vectors)
    expected = encode_passages(load_query_encoder(trained_run), corpus.texts)  # what `index build` stores
    assert np.allclose(vectors, expected, atol=1e-6)
    summary = json.loads((out / "passages.json").read_text())
    assert summary["rows"] == len(corpus) and summary["dim"] == 16 and summary["kind"] == "passage"
    assert summary["shards"] == -(-len(corpus) // 7) and not (out / ".passages.embed.staging").exists()
    assert load_embeddings(out, "passages")[0] == ids


def test_queries_equal_what_search_encodes(sample_training_data, trained_run, tmp_path):
    corpus = read_corpus(sample_training_data["passages"])
    pairs = read_pairs(sample_training_data["valid_pairs"], corpus)
    out = tmp_path / "embeds"
    result = lex_dpr(["embed", "-m", str(trained_run), "-i", str(sample_training_data["valid_pairs"]), "-o", str(out),
                      "-p", "queries", "--kind", "query", "--output-format", "npy", "--quiet"])
    assert result.exit_code == 0, result.output
    ids, vectors = load_embeddings(out, "queries")
    assert ids == [p["query_id"] for p in pairs]
    search = DenseRetriever("dense", load_query_encoder(trained_run), corpus)
    assert np.allclose(vectors, search.encode_queries([p["query_text"] for p in pairs]), atol=1e-6)
    assert json.loads((out / "queries.json").read_text())["text_field"] == "query_text"


def test_same_inputs_same_bytes_and_a_partial_staging_resumes(sample_training_data, trained_run, tmp_path,
                                                               monkeypatch):
    src = sample_training_data["passages"]
    first = embed_jsonl(src, tmp_path / "a", "p", str(trained_run), output_format="both", shard_size=5)
    again = embed_jsonl(src, tmp_path / "b", "p", str(trained_run), output_format="both", shard_size=5)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b") and first["encoded"] == first["rows"]

    calls = {"n": 0}
    real = store._chunks

    def stop_at_third(*a, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*a, **kw)

    monkeypatch.setattr(store, "_chunks", stop_at_third)
    with pytest.raises(KeyboardInterrupt):
        embed_jsonl(src, tmp_path / "c", "p", str(trained_run), output_format="both", shard_size=5)
    monkeypatch.setattr(store, "_chunks", real)
    shards = tmp_path / "c" / ".p.embed.staging" / "shards"
    assert len(list(shards.glob("*.npy"))) == 2 and not (tmp_path / "c" / "p.npz").exists()
    (shards / "shard-00001.npy").write_bytes((shards / "shard-00001.npy").read_bytes()[:100])  # cut by a crash
    resumed = embed_jsonl(src, tmp_path / "c", "p", str(trained_run), output_format="both", shard_size=5)
    assert resumed["reused_shards"] == 1 and resumed["encoded"] == again["rows"] - 5
    assert _digest(tmp_path / "c") == _digest(tmp_path / "a")


# The CLI in a subprocess whose encoder sleeps per call, so that the test can SIGKILL it mid-encoding.
_SLOW = """
import sys, time
from lex_dpr.retrieval.index import encode as store
real = store._load_encoder
class Slow:
    def __init__(self, enc): self.enc = enc
    def __getattr__(self, name): return getattr(self.enc, name)
    def encode_document(self, texts, **kw):
        time.sleep(0.3)
        return self.enc.encode_document(texts, **kw)
store._load_encoder = lambda *a, **kw: Slow(real(*a, **kw))
sys.argv = ["lex-dpr", *sys.argv[1:]]
from lex_dpr.cli.main import main
main()
"""


def test_sigkill_mid_run_then_the_same_command_gives_the_same_bytes(sample_training_data, trained_run, tmp_path):
    src = sample_training_data["passages"]
    args = ["embed", "--model", str(trained_run), "--input", str(src), "--outdir", str(tmp_path / "out"),
            "--prefix", "passages", "--shard-size", "4", "--quiet"]
    shards = tmp_path / "out" / ".passages.embed.staging" / "shards"
    proc = subprocess.Popen([sys.executable, "-c", _SLOW, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (shards / "shard-00001.npy").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    done = len(list(shards.glob("shard-*.npy")))
    assert done >= 2 and not (tmp_path / "out" / "passages.npz").exists()
    result = lex_dpr([*args, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["reused_shards"] == done and summary["encoded"] == summary["rows"] - 4 * done
    embed_jsonl(src, tmp_path / "clean", "passages", str(trained_run), shard_size=4)
    assert _digest(tmp_path / "out") == _digest(tmp_path / "clean")


def test_bad_lines_are_counted_and_bad_input_is_one_line(trained_run, tmp_path):
    src = tmp_path / "mixed.jsonl"
    src.write_text('{"id": "A", "text": "제1조(목적) 이 법은"}\n{"text": "no id"}\n{"id": "B", "text": "  "}\n'
                   'not json\n{"id": "A", "text": "again"}\n{"id": 7, "text": "제2조(정의)"}\n', encoding="utf-8")
    out = tmp_path / "out"
    result = lex_dpr(["embed", "--model", str(trained_run), "--input", str(src), "--outdir", str(out), "--prefix", "x",
                      "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    assert load_embeddings(out, "x")[0] == ["A", "7"]
    assert json.loads((out / "x.json").read_text())["skipped_lines"] == 4

    missing = lex_dpr(["embed", "--model", str(trained_run), "--input", str(tmp_path / "nope.jsonl"), "--outdir",
                       str(out), "--prefix", "x"])
    assert missing.exit_code == 1 and "nope.jsonl: no such file" in missing.output
    assert "Traceback" not in missing.output
    bad_type = lex_dpr(["embed", "--model", str(trained_run), "--input", str(src), "--outdir", str(out), "--prefix",
                        "x", "--type", "queries", "--output-format", "parquet"])
    assert bad_type.exit_code == 2 and "--type 'queries' is not one of passage, query" in bad_type.output
    assert "--output-format 'parquet'" in bad_type.output
    no_model = lex_dpr(["embed", "--model", str(tmp_path / "no-run"), "--input", str(src), "--outdir", str(out),
                        "--prefix", "x"])
    assert no_model.exit_code == 2 and "no-run: no such folder" in no_model.output
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"id": "A"}\n', encoding="utf-8")
    none = lex_dpr(["embed", "--model", str(trained_run), "--input", str(empty), "--outdir", str(out), "--prefix", "e"])
    assert none.exit_code == 1 and "no rows with 'id' and 'text'" in none.output and "Traceback" not in none.output


def test_limit_and_custom_fields(trained_run, tmp_path):
    src = tmp_path / "q.csvish.jsonl"
    src.write_text("".join(json.dumps({"qid": f"q{i}", "question": f"불법행위 {i}"}, ensure_ascii=False) + "\n"
                           for i in range(5)), encoding="utf-8")
    s = embed_jsonl(src, tmp_path / "o", "q", str(trained_run), kind="query", id_field="qid", text_field="question",
                    limit=3)
    assert s["rows"] == 3 and load_embeddings(tmp_path / "o", "q")[0] == ["q0", "q1", "q2"]
