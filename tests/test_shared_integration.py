"""End-to-end on ../shared/data/lexdpr (skipped when absent)."""

import orjson
import pytest

from lex_dpr.data.merge import merge_corpus
from lex_dpr.data.preprocess import preprocess
from lex_dpr.data.validate import validate
from lex_dpr.mining.make_pairs import MakePairsConfig, make_pairs, split_paths

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]


def test_shared_data_pipeline(shared_dir, tmp_path):
    out = {k: tmp_path / f"{k}.jsonl" for k in ("law", "admin", "prec")}
    pre = preprocess(shared_dir, out["law"], out["admin"], out["prec"], workers=2)
    assert not pre.skipped and pre.files["law"] == 49 and pre.files["admin"] == 20
    # random negatives keep this test fast; the BM25 path is covered on the sample and in bench/
    cfg = MakePairsConfig(law=str(out["law"]), admin=str(out["admin"]), prec_json_dir=str(shared_dir / "precedents"),
                          out=str(tmp_path / "pairs_train.jsonl"), negatives="random", hn_per_q=4)
    report = make_pairs(cfg)
    paths = split_paths(cfg.out)
    pairs = [orjson.loads(x) for f in ("train", "valid") for x in paths[f].read_bytes().splitlines()]
    law_pairs = [p for p in pairs if p["meta"]["type"] != "fallback"]
    assert report.precedents_resolved >= 4200
    assert len({p["meta"]["prec_id"] for p in law_pairs}) >= 4200
    assert sum(len(p["positive_passages"]) for p in law_pairs) >= 10000
    merged = tmp_path / "merged.jsonl"
    merge = merge_corpus([out["law"], out["admin"], paths["fallback"]], merged)
    assert not merge.conflicts
    assert validate([paths["train"], paths["valid"]], [merged]).errors == 0
