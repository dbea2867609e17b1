"""The Kiwi token cache never serves morphemes made with other settings."""


def test_token_cache_is_keyed_by_the_kiwi_settings(tmp_path, monkeypatch):
    from lex_dpr.retrieval import tokenize as kiwi_settings
    from lex_dpr.retrieval.token_cache import TokenCache

    TokenCache(tmp_path).add(["민법"], [["민법"]])
    assert TokenCache(tmp_path).get_many(["민법"]) == [["민법"]]
    monkeypatch.setattr(kiwi_settings, "CUTOFF_THRESHOLD", kiwi_settings.CUTOFF_THRESHOLD + 1)
    assert TokenCache(tmp_path).get_many(["민법"]) == [None]  # other settings: never reuse old morphemes
