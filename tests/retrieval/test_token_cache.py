"""The Kiwi token cache never serves morphemes made with other settings."""


def test_token_cache_is_keyed_by_the_kiwi_settings(tmp_path, monkeypatch):
    from lex_dpr.data import tokenize as kiwi_settings
    from lex_dpr.retrieval.token_cache import TokenCache

    TokenCache(tmp_path).add(["민법"], [["민법"]])
    assert TokenCache(tmp_path).get_many(["민법"]) == [["민법"]]
    monkeypatch.setattr(kiwi_settings, "CUTOFF_THRESHOLD", kiwi_settings.CUTOFF_THRESHOLD + 1)
    assert TokenCache(tmp_path).get_many(["민법"]) == [None]  # other settings: never reuse old morphemes


def test_lines_of_the_wrong_shape_are_cache_misses(tmp_path, caplog):
    import orjson

    from lex_dpr.retrieval.token_cache import TokenCache, text_key
    from lex_dpr.data.tokenize import tokenize_many

    path = TokenCache(tmp_path).path
    good = orjson.dumps([text_key("형법"), ["형법"]])
    hostile = [b"[1,2]", b'{"k": 3}', b'"a string"', b"null", b"[]", orjson.dumps([text_key("민법"), 3]),
               orjson.dumps([text_key("민법"), ["민법", 7]]), orjson.dumps([text_key("민법"), "민법"]), b'["cut']
    path.write_bytes(b"\n".join([good, *hostile]) + b"\n")
    cache = TokenCache(tmp_path)
    assert (len(cache), cache.bad_lines) == (1, len(hostile))
    assert "9 line(s) are not cache entries" in caplog.text
    assert cache.get_many(["형법", "민법"]) == [["형법"], None]
    texts = ["민법 제750조 불법행위", "형법"]
    assert tokenize_many(texts, workers=1, cache=cache) == tokenize_many(texts, workers=1)  # re-tokenised, no TypeError


WRITER = """
import sys, time
from pathlib import Path
from lex_dpr.retrieval.token_cache import TokenCache
folder, go, order = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
keys = [f"text {i}" for i in range(3000)]
if order == "reversed":
    keys.reverse()
cache = TokenCache(folder)  # opened before the other writer wrote anything
while not go.exists():
    time.sleep(0.001)
for start in range(0, len(keys), 50):
    part = keys[start:start + 50]
    cache.add(part, [t.split() for t in part])
"""


def test_two_runs_writing_the_same_keys_at_once_write_each_key_once(tmp_path):
    import subprocess
    import sys

    import orjson

    from lex_dpr.retrieval.token_cache import TokenCache

    go = tmp_path / "go"
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / "cache"), str(go), order])
               for order in ("forward", "reversed")]
    go.touch()
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    cache = TokenCache(tmp_path / "cache")
    lines = cache.path.read_bytes().splitlines()
    keys = [orjson.loads(line)[0] for line in lines]
    assert len(keys) == len(set(keys)) == 3000 and (cache.duplicates, cache.bad_lines) == (0, 0)
    texts = [f"text {i}" for i in range(3000)]
    assert cache.get_many(texts) == [t.split() for t in texts]  # what a single run would hold


def test_duplicates_from_older_versions_are_dropped_and_compacted(tmp_path):
    import orjson

    from lex_dpr.retrieval.token_cache import TokenCache, text_key

    path = TokenCache(tmp_path).path
    lines = [orjson.dumps([text_key(f"t{i}"), [f"t{i}"]]) for i in range(1000)]
    path.write_bytes(b"\n".join(lines * 3) + b"\n[1, 2]\n")  # every key three times: 2001 wasted of 3001 lines
    cache = TokenCache(tmp_path)
    assert len(cache) == 1000 and cache.get_many(["t7"]) == [["t7"]]
    assert path.read_bytes().splitlines() == lines  # rewritten once, in first-seen order
    assert (TokenCache(tmp_path).duplicates, TokenCache(tmp_path).bad_lines) == (0, 0)


def test_a_cache_that_cannot_be_written_is_used_read_only(tmp_path, caplog):
    from lex_dpr.retrieval.token_cache import TokenCache

    (tmp_path / "file").write_text("x")
    cache = TokenCache(tmp_path / "file" / "cache")  # a folder under a file: fails for root too
    cache.add(["민법"], [["민법"]])
    cache.add(["형법"], [["형법"]])
    assert cache.get_many(["민법", "형법"]) == [["민법"], ["형법"]] and not cache.writable
    assert caplog.text.count("cannot write the token cache") == 1


def test_a_line_cut_by_a_crash_is_dropped_and_cut_away_before_the_next_append(tmp_path):
    import orjson

    from lex_dpr.retrieval.token_cache import TokenCache, text_key

    path = TokenCache(tmp_path).path
    good = orjson.dumps([text_key("형법"), ["형법"]]) + b"\n"
    path.write_bytes(good + orjson.dumps([text_key("민법"), ["민법"]])[:-4])  # killed mid-append
    cache = TokenCache(tmp_path)
    assert (len(cache), cache.bad_lines) == (1, 0) and cache.get_many(["민법"]) == [None]
    cache.add(["민법"], [["민법"]])
    assert path.read_bytes() == good + orjson.dumps([text_key("민법"), ["민법"]]) + b"\n"  # not glued onto the cut
    again = TokenCache(tmp_path)
    assert again.get_many(["형법", "민법"]) == [["형법"], ["민법"]] and again.bad_lines == 0
