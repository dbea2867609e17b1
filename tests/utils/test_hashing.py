"""Stored digests never change: each call site's digest, pinned with the values the code gave before it used
lex_dpr.utils.hashing (token-cache keys, merge and duplicate keys, tie-breaks, generation and model fingerprints,
resume keys, file hashes)."""

from __future__ import annotations

import hashlib
import os

from lex_dpr.utils.hashing import blake2b_digest, blake2b_hex, sha1_hex, sha256_file, sha256_hex

QUESTION = "민법 제750조의 요건은?"


def test_the_helpers_are_the_hashlib_digests():
    for data in ("민법", b"\x00\xff", ""):
        raw = data.encode() if isinstance(data, str) else data
        assert sha256_hex(data) == hashlib.sha256(raw).hexdigest() and sha256_hex(data, 16) == sha256_hex(data)[:16]
        assert sha1_hex(data, 12) == hashlib.sha1(raw).hexdigest()[:12]
        assert blake2b_digest(data, 8) == hashlib.blake2b(raw, digest_size=8).digest()
        assert blake2b_hex(data, 12) == hashlib.blake2b(raw, digest_size=12).hexdigest()


def test_token_cache_keys_are_unchanged(monkeypatch):
    import importlib.metadata

    from lex_dpr.data import tokenize as t
    from lex_dpr.data.tokenize import settings_key
    from lex_dpr.retrieval.token_cache import text_key

    assert text_key("민법 제750조 불법행위") == "f0efa7307beaa3eecd68bf5e"
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "0.0-test")
    raw = f"0.0-test|{t.KEPT_TAGS}|{t._OPTIONS}|{t._PIECES.pattern}|nodicts|{t.CUTOFF_THRESHOLD}|irregular-stems"
    assert settings_key() == hashlib.sha1(raw.encode()).hexdigest()[:12]


def test_data_synth_and_rag_keys_are_unchanged():
    from lex_dpr.data.merge import _digest
    from lex_dpr.data.validate import _query_key
    from lex_dpr.rag.questions_file import question_key
    from lex_dpr.synth.filters import _hash

    assert _query_key(QUESTION).hex() == "9f1183d0c79f40282c371fcb2a5b08dd"
    assert _digest({"text": "민법", "id": "LAW_1"}) == 316810359395788614553978656411594875256
    assert _hash("민법제").hex() == "46233c22b6430f7a"
    assert question_key(QUESTION) == "74b19d06ef882cf7"


def test_generation_fingerprints_are_unchanged():
    from lex_dpr.llm.base import GenerationConfig

    assert GenerationConfig().fingerprint() == "c2570c9928cc9970"
    assert GenerationConfig(do_sample=True, temperature=0.3).fingerprint() == "fbb9a44185a3cf34"


def _model_folder(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"weights" * 1000)
    (tmp_path / "config.json").write_text('{"a": 1}')
    (tmp_path / "README.md").write_text("card")
    return tmp_path


def test_file_hashes_and_model_fingerprints_are_unchanged(tmp_path, monkeypatch):
    from lex_dpr.models.fingerprint import fingerprint_or_name, model_fingerprint
    from lex_dpr.utils.io import sha256_file as io_sha256_file

    folder = _model_folder(tmp_path)
    digest = "9bdd2b102a4a49a2f82bece21842c0a0b264afaa85c7ed69193e98591b8bdccb"
    assert sha256_file(folder / "model.safetensors") == io_sha256_file(folder / "model.safetensors") == digest
    assert sha256_file(folder / "model.safetensors", chunk=7) == digest
    assert model_fingerprint(folder) == "fab534fbe1ae84f93fd91129ef83d42fb925b539130760b6cf3ec0a8d361bd81"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert fingerprint_or_name("nobody/no-such-model-xyz") == (
        "a80e21a90e7d7ac5ba87eb921dcfb79afcc8722f806c34e6a61d866967df757d")


def test_local_llm_folder_stamp_is_unchanged(tmp_path):
    from lex_dpr.llm.transformers_backend import _folder_stamp

    folder = _model_folder(tmp_path)
    for p in folder.iterdir():
        os.utime(p, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    assert _folder_stamp(folder) == "14979a003a31"
