"""make-pairs --heldout-articles: a split grouped by positive article, whose articles no other split has as positives."""

import re

import orjson
import pytest

from lex_dpr.data.merge import merge_corpus
from lex_dpr.data.validate import validate
from lex_dpr.errors import ConfigError
from lex_dpr.mining.make_pairs import MakePairsConfig, make_pairs, split_paths
from lex_dpr.mining.split import article_heldout_split, is_heldout_article
from _cli import lex_dpr

RATIO = 0.3
PAIR_SPLITS = ("train", "valid", "test", "heldout")


def _rows(path):
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def _config(sample_passages, sample_dir, out, **kw) -> MakePairsConfig:
    return MakePairsConfig(**{"law": str(sample_passages["law"]), "admin": str(sample_passages["admin"]),
                              "use_admin_for_prec": True, "prec_json_dir": str(sample_dir / "precedents"),
                              "out": str(out), "hn_per_q": 4, "valid_ratio": 0.2, "test_ratio": 0.1,
                              "heldout_articles": RATIO, "negatives": "random", "cache_dir": "", **kw})


def _articles(pair) -> set[str]:  # the sample is preprocessed per article: a positive id is its article id
    return set() if pair["meta"]["type"] == "fallback" else set(pair["positive_passages"])


@pytest.fixture(scope="module")
def held(sample_passages, sample_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("heldout") / "pairs_train.jsonl"
    cfg = _config(sample_passages, sample_dir, out)
    report = make_pairs(cfg)
    paths = split_paths(out)
    return cfg, report, paths, {k: _rows(paths[k]) for k in PAIR_SPLITS}


def test_heldout_file_holds_every_pair_citing_a_heldout_article_and_no_other_split_does(held):
    cfg, report, paths, rows = held
    every = set().union(*(_articles(p) for name in PAIR_SPLITS for p in rows[name]))
    heldout_articles = {a for a in every if is_heldout_article(a, RATIO, cfg.seed)}
    assert rows["heldout"] and heldout_articles
    # a pair mixing held-out and kept articles is held out, scored on its held-out articles only
    assert all(_articles(p) and _articles(p) <= heldout_articles for p in rows["heldout"])
    mixed = [p for p in rows["heldout"] if p["meta"].get("trained_positives")]
    assert len(mixed) == report.heldout["pairs_held_out_with_a_kept_article"]
    assert all(not set(p["meta"]["trained_positives"]) & heldout_articles for p in mixed)
    for name in ("train", "valid", "test"):
        assert rows[name] and not set().union(*(_articles(p) for p in rows[name])) & heldout_articles, name
    assert all(p["meta"]["type"] != "fallback" for p in rows["heldout"])  # precedent positives are never held out
    manifest = orjson.loads(paths["manifest"].read_bytes())
    assert "pairs_train_heldout.jsonl" in manifest["files"] and manifest["settings"]["heldout_articles"] == RATIO
    summary = orjson.loads(paths["summary"].read_bytes())
    assert summary["pairs"] == {k: len(rows[k]) for k in PAIR_SPLITS} == report.pairs
    ho = summary["heldout"]
    assert ho["articles_held_out"] == len(heldout_articles) and ho["pairs_held_out"] == len(rows["heldout"])
    assert ho["articles_by_split"]["heldout"] == len(set().union(*(_articles(p) for p in rows["heldout"])))
    assert sum(summary["pairs"].values()) + ho["pairs_dropped"] == report.queries  # every pair somewhere
    assert summary["dropped_queries"].get("shares a precedent or query with a held-out pair", 0) == ho["pairs_dropped"]
    # the articles of every mined pair (a dropped pair may cite one no written pair cites); on 21 articles the
    # share is noisy (binomial), on many it is close (see the test below)
    assert ho["articles"] == 21 >= len(every) and ho["share"] == round(len(heldout_articles) / 21, 4)
    assert abs(ho["share"] - RATIO) <= 0.15


def test_no_precedent_or_query_is_in_two_splits(held, sample_passages, tmp_path):
    _, _, paths, _ = held
    merged = tmp_path / "merged.jsonl"
    merge_corpus([sample_passages["law"], sample_passages["admin"], paths["fallback"]], merged)
    report = validate([paths[k] for k in PAIR_SPLITS], [merged])
    assert report.errors == 0, report.findings


def test_the_share_is_the_ratio_and_an_article_keeps_its_side():
    ids = [f"LAW_{law:06d}_제{art}조" for law in range(40) for art in range(1, 501)]  # 20 000 articles
    for seed in (0, 42):
        small = {a for a in ids if is_heldout_article(a, 0.1, seed)}
        large = {a for a in ids if is_heldout_article(a, 0.3, seed)}
        assert abs(len(small) / len(ids) - 0.1) < 0.01 and abs(len(large) / len(ids) - 0.3) < 0.01
        assert small < large  # a larger share only adds articles
    assert {a for a in ids if is_heldout_article(a, 0.1, 1)} != {a for a in ids if is_heldout_article(a, 0.1, 0)}
    # adding data moves no article: a pair set and its superset agree on every article they share
    pairs = [{"query_text": f"쟁점 {i}", "meta": {"prec_id": str(i)}} for i in range(len(ids))]
    arts = [{a} for a in ids]
    part = article_heldout_split(pairs[:5000], arts[:5000], 0.2, 7)
    whole = article_heldout_split(pairs, arts, 0.2, 7)
    assert part.held == whole.held & set(ids[:5000])


def test_same_seed_same_bytes_other_seed_other_articles(held, sample_passages, sample_dir, tmp_path):
    cfg, _, paths, _ = held
    again = tmp_path / "again" / "pairs_train.jsonl"
    make_pairs(MakePairsConfig(**{**cfg.__dict__, "out": str(again)}))
    for name in (*PAIR_SPLITS, "fallback"):
        assert split_paths(again)[name].read_bytes() == paths[name].read_bytes(), name
    other = tmp_path / "other" / "pairs_train.jsonl"
    make_pairs(MakePairsConfig(**{**cfg.__dict__, "out": str(other), "seed": 2}))
    assert split_paths(other)["heldout"].read_bytes() != paths["heldout"].read_bytes()


def test_ratio_zero_writes_what_make_pairs_always_wrote(held, sample_passages, sample_dir, tmp_path):
    out = tmp_path / "pairs_train.jsonl"
    make_pairs(_config(sample_passages, sample_dir, out, heldout_articles=0.0))
    paths = split_paths(out)
    off = {k: paths[k].read_bytes() for k in ("train", "valid", "test", "fallback", "summary", "manifest")}
    assert not paths["heldout"].exists()
    summary, manifest = orjson.loads(off["summary"]), orjson.loads(off["manifest"])
    assert "heldout" not in summary and "heldout_articles" not in summary["config"]
    assert "heldout_articles" not in manifest["settings"] and set(summary["pairs"]) == {"train", "valid", "test"}
    assert b"heldout" not in off["summary"] + off["manifest"]
    # a held-out run into the same folder, then an unheld one: the heldout file leaves with the set
    make_pairs(_config(sample_passages, sample_dir, out))
    assert paths["heldout"].exists()
    make_pairs(_config(sample_passages, sample_dir, out, heldout_articles=0.0))
    assert not paths["heldout"].exists()
    manifest = orjson.loads(paths["manifest"].read_bytes())
    assert manifest["removed"] == ["pairs_train_heldout.jsonl"]
    assert {k: paths[k].read_bytes() for k in ("train", "valid", "test", "fallback", "summary")} == \
        {k: v for k, v in off.items() if k != "manifest"}


@pytest.mark.parametrize("ratio", [1.0, -0.1, float("nan")])
def test_bad_ratio_is_a_one_line_config_error(ratio, sample_passages, sample_dir, tmp_path):
    with pytest.raises(ConfigError, match=r"^--heldout-articles .*: a fraction in \[0, 1\)$"):
        _config(sample_passages, sample_dir, tmp_path / "p.jsonl", heldout_articles=ratio).check()
    result = lex_dpr(["make-pairs", "--law", str(sample_passages["law"]), "--prec-json-dir", str(sample_dir / "precedents"),
                      "--out", str(tmp_path / "p.jsonl"), "--heldout-articles", str(ratio)])
    assert result.exit_code == 2 and type(result.exception) is SystemExit and result.stdout == ""
    assert result.stderr == f"error: --heldout-articles {ratio}: a fraction in [0, 1)\n"
    assert not list(tmp_path.iterdir())


def test_cli_writes_and_counts_the_heldout_split(sample_passages, sample_dir, tmp_path):
    out = tmp_path / "pairs_train.jsonl"
    result = lex_dpr(["make-pairs", "--law", str(sample_passages["law"]), "--admin", str(sample_passages["admin"]),
                      "--use-admin-for-prec", "--prec-json-dir", str(sample_dir / "precedents"), "--out", str(out),
                      "--hn-per-q", "2", "--negatives", "random", "--no-cache", "--heldout-articles", "0.5", "--quiet"])
    assert result.exit_code == 0, result.output
    heldout = _rows(split_paths(out)["heldout"])
    summary = orjson.loads(split_paths(out)["summary"].read_bytes())["heldout"]
    assert heldout and re.search(rf"pairs: heldout +│ +{len(heldout)} │", result.stdout)
    assert re.search(rf"articles held out +│ +{summary['articles_held_out']} of {summary['articles']} ", result.stdout)
    assert re.search(rf"articles: heldout +│ +{summary['articles_by_split']['heldout']} │", result.stdout)


def test_training_refuses_the_heldout_split(held):
    from lex_dpr.training.config import load_config, resolve_data_paths

    _, _, paths, _ = held
    for key in ("pairs", "valid_pairs"):
        cfg = load_config(None, [f"data.pairs={paths['train']}", f"data.passages={paths['train']}",
                                 f"data.{key}={paths['heldout']}"])
        with pytest.raises(ConfigError, match=rf"'data.{key}': .*pairs_train_heldout.jsonl is make-pairs' held-out split"):
            resolve_data_paths(cfg)


def test_which_articles_are_held_out_never_changes():
    """The held-out side is persisted (pair sets made at one version are compared with another's): pinned."""
    ids = [f"LAW_000001_제{i}조" for i in range(1, 41)]
    assert [i for i, a in enumerate(ids, 1) if is_heldout_article(a, 0.25, 42)] == [4, 5, 10, 15, 17, 22, 24, 26, 31, 40]
    few = ["LAW_000001_제1조", "LAW_000001_제2조", "민법_제750조", "LAW_000123_제23조의2", "x"]
    assert [is_heldout_article(a, 0.5, 0) for a in few] == [False, True, True, False, False]
    assert [is_heldout_article(a, 0.5, 42) for a in few] == [False, False, True, False, False]
