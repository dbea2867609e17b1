"""`model.text_form=morphemes|both`: a static model that reads Kiwi content morphemes (or text and morphemes), trained on the sample and opened by
every loader; what it encodes equals the plain model encoding the morphemes (Kiwi as the oracle)."""

from collections import Counter

import numpy as np
import pytest

from lex_dpr.data.tokenize import tokenize
from lex_dpr.models.loading import load_encoder, load_query_encoder
from lex_dpr.models.metadata import read_metadata
from lex_dpr.models.morphemes import MorphemeTokenizer, as_morphemes
from lex_dpr.models.static import NumpyStaticEncoder
from lex_dpr.training.config import load_config
from lex_dpr.training.train import train

TEXTS = ["길에서 지갑을 주웠는데 주인이 안 나타나면 제 거예요?", "불법행위로 인한 손해배상", "😀😀"]


@pytest.fixture(scope="module")
def morpheme_run(sample_training_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("morphemes")
    cfg = load_config(None, [*(f"data.{k}={v}" for k, v in sample_training_data.items()), f"out_dir={out}",
                             "model.text_form=morphemes", "model.vocab_size=400", "model.embedding_dim=16",
                             "trainer.epochs=1", "trainer.batch_size=8", "data.hard_negatives=1",
                             "wandb.mode=disabled"])
    return train(cfg, show_progress=False).final_dir


def test_as_morphemes_is_kiwis_content_morphemes():
    assert as_morphemes(TEXTS) == [" ".join(tokenize(TEXTS[0])), " ".join(tokenize(TEXTS[1])), "😀😀"]
    assert as_morphemes(TEXTS)[0].split()[:3] == ["길", "지갑", "줍"]  # 주웠는데 → 줍


def test_every_loader_reads_morphemes_and_the_vocabulary_was_learnt_over_them(morpheme_run, sample_training_data):
    from lex_dpr.data.corpus import read_corpus, read_pairs
    from lex_dpr.models.static import train_wordpiece

    meta = read_metadata(morpheme_run)
    assert meta.text_form == "morphemes" and meta.kind == "static"
    plain = NumpyStaticEncoder.load(morpheme_run)  # the folder alone: raw text
    expected = plain.encode(as_morphemes(TEXTS))
    for encoder in (load_query_encoder(morpheme_run), load_encoder(morpheme_run, device="cpu")):
        assert np.allclose(encoder.encode_query(TEXTS), expected, atol=1e-5)
        assert not np.allclose(encoder.encode_query(TEXTS[:2]), plain.encode(TEXTS[:2]), atol=1e-3)
    corpus = read_corpus(sample_training_data["passages"])
    texts = corpus.texts + [p["query_text"] for p in read_pairs(sample_training_data["pairs"], corpus)]
    assert plain.tokenizer.get_vocab() == train_wordpiece(as_morphemes(texts), 400).get_vocab()
    assert plain.tokenizer.get_vocab() != train_wordpiece(texts, 400).get_vocab()
    assert not isinstance(plain.tokenizer, MorphemeTokenizer)


def test_a_raw_text_model_is_left_as_it_is(trained_run):
    meta = read_metadata(trained_run / "bi_encoder" / "final")
    assert meta.text_form == "text"
    assert not isinstance(load_query_encoder(trained_run).tokenizer, MorphemeTokenizer)


def test_the_shipped_config_takes_a_transformer_by_its_name_alone():
    """The shipped config's static model reads text and morphemes; switching model.name to a transformer is
    enough (it reads text: text_form is static only, like embedding_dim), not a config error."""
    from tests._cli import lex_dpr

    result = lex_dpr(["config", "check", "train", "model.name=multilingual-e5-small"])
    assert result.exit_code == 0, result.output
    assert load_config("train", ["model.name=multilingual-e5-small"]).model.text_form == "both"


def test_another_kiwi_is_warned_about_and_an_unknown_text_form_is_one_error(morpheme_run, tmp_path, caplog):
    import logging

    import orjson

    from lex_dpr.errors import InputError
    from tests._cli import link_copy

    folder = link_copy(morpheme_run, tmp_path / "model")
    meta_file = folder / "lexdpr_model.json"
    meta = orjson.loads(meta_file.read_bytes())
    assert meta["kiwi_settings"]  # recorded at training
    meta_file.unlink()
    meta_file.write_bytes(orjson.dumps({**meta, "kiwi_settings": "0123456789ab"}))
    with caplog.at_level(logging.WARNING):
        encoder = load_query_encoder(folder)
    assert "trained with Kiwi settings 0123456789ab" in caplog.text
    assert isinstance(encoder.tokenizer, MorphemeTokenizer)  # still read as morphemes
    meta_file.write_bytes(orjson.dumps({**meta, "text_form": "jamo"}))
    with pytest.raises(InputError, match="text_form 'jamo' for a static model; lex-dpr reads 'text', or 'morphemes' or 'both'"):
        load_query_encoder(folder)


def test_the_wrapped_tokenizers_copy_and_pickle(morpheme_run):
    import copy
    import pickle

    from lex_dpr.models.static import CachedTokenizer

    encoder = load_query_encoder(morpheme_run)
    for wrapper in (encoder.tokenizer, CachedTokenizer(encoder.tokenizer)):
        for clone in (copy.copy(wrapper), copy.deepcopy(wrapper), pickle.loads(pickle.dumps(wrapper))):
            assert clone.encode_batch(TEXTS[:1], add_special_tokens=False)[0].ids == \
                wrapper.encode_batch(TEXTS[:1], add_special_tokens=False)[0].ids


def test_both_views_read_the_text_and_its_morphemes_each_up_to_the_limit(sample_training_data, tmp_path):
    from lex_dpr.models.morphemes import morphemes_of

    cfg = load_config(None, [*(f"data.{k}={v}" for k, v in sample_training_data.items()), f"out_dir={tmp_path}",
                             "model.text_form=both", "model.vocab_size=400", "model.embedding_dim=16",
                             "model.max_seq_length=32", "trainer.epochs=1", "trainer.batch_size=8",
                             "data.hard_negatives=1", "wandb.mode=disabled"])
    final = train(cfg, show_progress=False).final_dir
    assert read_metadata(final).text_form == "both"
    long = "임대인은 임차인에게 보증금을 반환하여야 하고 임차인은 목적물을 인도하여야 한다. " * 6
    texts = [*TEXTS, long]
    plain = NumpyStaticEncoder.load(final)  # raw text only, truncated at 32 tokens
    halves = [plain.tokenizer.encode(t, add_special_tokens=False).ids
              + (plain.tokenizer.encode(m, add_special_tokens=False).ids if m else [])
              for t, m in zip(texts, morphemes_of(texts), strict=True)]
    assert len(halves[-1]) > 32  # each half is cut at the limit on its own: the long text keeps its morphemes
    expected = np.stack([plain.weights[ids].mean(axis=0) for ids in halves])
    for encoder in (load_query_encoder(final), load_encoder(final, device="cpu")):
        got = encoder.encode_query(texts)
        assert np.allclose(got / np.linalg.norm(got, axis=1, keepdims=True),
                           expected / np.linalg.norm(expected, axis=1, keepdims=True), atol=1e-5)


def test_an_index_build_borrows_the_passages_morphemes_and_gets_the_same_vectors(morpheme_run, sample_training_data,
                                                                                 tmp_path, monkeypatch):
    from lex_dpr.data import tokenize as kiwi
    from lex_dpr.retrieval.index import build_index
    from lex_dpr.retrieval.token_cache import CACHE_DIR

    passages = sample_training_data["passages"]
    assert (passages.parent / CACHE_DIR).is_dir()  # make-pairs left its Kiwi cache beside the corpus
    read = []
    real = kiwi._tokenize
    monkeypatch.setattr(kiwi, "_tokenize", lambda texts, *a, **k: read.extend(texts) or real(texts, *a, **k))
    monkeypatch.setattr(kiwi, "_MEMO", {})
    build_index(passages, tmp_path / "borrowed", model=str(morpheme_run), bm25=False)
    borrowed = len(read)
    read.clear()
    monkeypatch.setattr(kiwi, "_MEMO", {})
    build_index(passages, tmp_path / "alone", model=str(morpheme_run), bm25=False, token_cache="none")
    assert borrowed < len(read) / 2, (borrowed, len(read))  # most passages came from the cache
    assert (tmp_path / "borrowed" / "embeddings.npy").read_bytes() == (tmp_path / "alone" / "embeddings.npy").read_bytes()


def test_training_borrows_the_morphemes_make_pairs_cached_and_they_are_kiwis(sample_training_data):
    from lex_dpr.data.corpus import read_corpus, read_pairs
    from lex_dpr.models.morphemes import morphemes_of
    from lex_dpr.training.train import _lend_morphemes

    corpus = read_corpus(sample_training_data["passages"])
    texts = corpus.texts + [p["query_text"] for p in read_pairs(sample_training_data["pairs"], corpus)]
    cfg = load_config(None, [*(f"data.{k}={v}" for k, v in sample_training_data.items())])
    memo: dict[str, str] = {}
    _lend_morphemes(cfg, texts, memo)
    assert len(memo) >= len(set(corpus.texts))  # every passage came from the cache
    borrowed = sorted(memo)
    assert [memo[t] for t in borrowed] == morphemes_of(borrowed)  # what Kiwi itself gives


def test_an_encoding_worker_is_handed_its_shards_morphemes_and_runs_no_kiwi(morpheme_run, monkeypatch, tmp_path):
    from lex_dpr.data import tokenize as kiwi
    from lex_dpr.models.morphemes import morpheme_tokenizer
    from lex_dpr.retrieval.index import encode

    parent = load_query_encoder(morpheme_run)
    morpheme_tokenizer(parent).prime(TEXTS, [tokenize(t) for t in TEXTS])  # as from make-pairs' cache
    known = morpheme_tokenizer(parent).known(TEXTS)
    assert known[0].split()[:3] == ["길", "지갑", "줍"] and known[2] == ""
    monkeypatch.setattr(encode, "_WORKER", {"encoder": load_query_encoder(morpheme_run)})  # a fresh worker's model
    monkeypatch.setattr(kiwi, "_MEMO", {})
    read = []
    real = kiwi._tokenize
    monkeypatch.setattr(kiwi, "_tokenize", lambda texts, *a, **k: read.extend(texts) or real(texts, *a, **k))
    encode._worker_encode(list(TEXTS), str(tmp_path / "shard.npy"), 8, known)
    assert read == []
    assert np.array_equal(np.load(tmp_path / "shard.npy"), parent.encode_document(TEXTS, normalize_embeddings=True))
    encode._worker_encode(list(TEXTS), str(tmp_path / "again.npy"), 8, None)  # nothing handed: Kiwi reads them
    assert read and (tmp_path / "again.npy").read_bytes() == (tmp_path / "shard.npy").read_bytes()


def test_without_make_pairs_cache_kiwi_reads_each_passage_once_for_the_model_and_bm25(morpheme_run, sample_training_data,
                                                                                       tmp_path, monkeypatch):
    from lex_dpr.data import tokenize as kiwi
    from lex_dpr.data.corpus import read_corpus
    from lex_dpr.retrieval.index import build_index
    from lex_dpr.retrieval.index.loaded import open_index

    passages = sample_training_data["passages"]
    texts = read_corpus(passages).texts
    read = []
    real = kiwi._tokenize
    monkeypatch.setattr(kiwi, "_tokenize", lambda batch, *a, **k: read.extend(batch) or real(batch, *a, **k))
    monkeypatch.setattr(kiwi, "_MEMO", {})
    # two encoding processes: each would run Kiwi over its shards, and this one again over all for BM25
    manifest = build_index(passages, tmp_path / "cold", model=str(morpheme_run), token_cache="none", workers=2,
                           shard_size=64)
    counts = Counter(read)
    assert all(counts[t] == 1 for t in set(texts)), counts.most_common(3)  # Kiwi here, once a passage
    assert manifest.build["tokenized"] == 0  # BM25's morphemes were lent, not tokenised again
    assert "morphemes" in manifest.build["seconds"]  # timed as its own step
    # the same vectors and BM25 as a build that borrows make-pairs' cache
    build_index(passages, tmp_path / "warm", model=str(morpheme_run), workers=1)
    assert (tmp_path / "cold" / "embeddings.npy").read_bytes() == (tmp_path / "warm" / "embeddings.npy").read_bytes()
    cold, warm = open_index(tmp_path / "cold"), open_index(tmp_path / "warm")
    query = "불법행위로 인한 손해배상"
    assert cold.bm25.rank([query], 10) == warm.bm25.rank([query], 10)
    assert not (tmp_path / ".cold.staging").exists()
