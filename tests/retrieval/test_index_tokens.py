"""`index build` borrows the passages' morphemes from make-pairs' Kiwi cache: a text's morphemes are its heading
line's then its body's, so the borrowed index is byte-for-byte the one Kiwi would give."""

from __future__ import annotations

import filecmp
import random

import orjson
import pytest

from lex_dpr.retrieval.bm25 import search_head, search_text
from lex_dpr.data.tokenize import tokenize_many


def _records(path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def _check_split(records: list[dict]) -> None:
    whole = tokenize_many([search_text(r) for r in records], workers=1)
    heads = tokenize_many([search_head(r) for r in records], workers=1)
    bodies = tokenize_many([r["text"] for r in records], workers=1)
    for r, w, h, b in zip(records, whole, heads, bodies, strict=True):
        assert w == h + b, r["id"]


def test_a_search_texts_morphemes_are_its_heads_then_its_bodys_on_the_sample(sample_training_data):
    records = _records(sample_training_data["passages"])
    assert sum(bool(search_head(r)) for r in records) > 30
    _check_split(records)


@pytest.mark.slow
def test_a_search_texts_morphemes_are_its_heads_then_its_bodys_on_the_shared_laws(shared_dir, tmp_path):
    from lex_dpr.data.preprocess import preprocess

    law, admin = tmp_path / "law.jsonl", tmp_path / "admin.jsonl"
    preprocess(shared_dir, law, admin, None, pattern="laws/**/*.json")
    records = _records(law)
    _check_split(random.Random(0).sample(records, min(2000, len(records))))


def test_index_build_borrows_make_pairs_morphemes_and_gives_the_same_bm25(sample_training_data, tmp_path):
    from lex_dpr.retrieval.index import build_index

    passages = sample_training_data["passages"]
    assert (passages.parent / ".lexdpr_cache").is_dir()  # make-pairs' cache beside the pairs
    lent = build_index(passages, tmp_path / "lent", dense=False)
    own = build_index(passages, tmp_path / "own", dense=False, token_cache=None)
    n = len(_records(passages))
    assert own.build["tokenized"] == n
    assert lent.build["tokenized"] < n // 2  # only bodies make-pairs never saw go through Kiwi
    cmp = filecmp.dircmp(tmp_path / "lent" / "bm25", tmp_path / "own" / "bm25")
    assert not cmp.diff_files and not cmp.left_only and not cmp.right_only
    assert lent.files["bm25"] == own.files["bm25"]


def test_make_pairs_caches_the_heading_lines_so_index_build_sends_kiwi_none(sample_training_data, tmp_path,
                                                                            monkeypatch):
    from lex_dpr.retrieval.index import assemble, build_index
    from lex_dpr.retrieval.token_cache import TokenCache

    passages = sample_training_data["passages"]
    heads = sorted({h for r in _records(passages) if (h := search_head(r))})
    cached = TokenCache(passages.parent / ".lexdpr_cache").get_many(heads)
    assert len(heads) > 10 and all(t is not None for t in cached)
    assert cached == tokenize_many(heads, workers=1)  # what Kiwi says of each line alone
    sent: list[str] = []
    real = assemble.tokenize_many

    def counting(texts, *args, **kwargs):
        sent.extend(texts)
        return real(texts, *args, **kwargs)

    monkeypatch.setattr(assemble, "tokenize_many", counting)
    lent = build_index(passages, tmp_path / "lent", dense=False)
    assert not set(sent) & set(heads)
    assert len(sent) == lent.build["tokenized"]  # only bodies make-pairs never saw
    monkeypatch.undo()
    own = build_index(passages, tmp_path / "own", dense=False, token_cache=None)
    assert lent.files["bm25"] == own.files["bm25"]
