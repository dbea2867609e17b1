"""A pair set's split file names: make-pairs writes them by the rule that training, sweeps and rag tune read."""

from pathlib import Path

import pytest

from lex_dpr.mining.make_pairs import split_paths
from lex_dpr.mining.split_files import SPLITS, set_stem, split_base, split_of, split_sibling


@pytest.mark.parametrize("out", ["out/pairs_train.jsonl", "pairs.jsonl", "x/판례_쌍.jsonl", "x/pairs"])
def test_make_pairs_writes_the_siblings_readers_look_for(out):
    paths = split_paths(out)
    for split in SPLITS:
        assert paths[split] == split_sibling(out, split)
        assert split_of(paths[split]) == split
        assert split_base(paths[split]) == Path(out).with_name(set_stem(out) + ".jsonl")
    assert split_of(paths["train"]) is None and split_base(paths["train"]) is None


def test_names():
    assert split_sibling("a/pairs_train.jsonl", "valid") == Path("a/pairs_train_valid.jsonl")
    assert split_base("a/pairs_train_heldout.jsonl") == Path("a/pairs_train.jsonl")
    assert split_of("a/pairs_train_test.jsonl") == "test"
    assert [split_of(p) for p in ("_valid.jsonl", "valid.jsonl", "pairs_validation.jsonl", "p_summary.json")] == \
        [None] * 4
    with pytest.raises(ValueError, match="'train' is not one of valid, test, heldout"):
        split_sibling("p.jsonl", "train")


def test_a_file_named_by_hand_is_read_by_its_suffix():
    assert split_of("x_heldout.json") == "heldout"  # training still refuses it
    assert split_base("x_valid.json") == Path("x.json")


def test_training_and_rag_tune_and_the_preset_use_the_rule(tmp_path):
    from lex_dpr.sweep.preset import build_preset
    from lex_dpr.training.config import load_config, resolve_data_paths

    pairs = tmp_path / "pairs_train.jsonl"
    for path in (pairs, split_sibling(pairs, "valid"), tmp_path / "c.jsonl"):
        path.write_text("{}\n")
    cfg = load_config(None, [f"data.pairs={pairs}", f"data.passages={tmp_path / 'c.jsonl'}"])
    resolve_data_paths(cfg)
    assert cfg.data.valid_pairs == str(split_sibling(pairs, "valid"))
    preset = build_preset("static", pairs=str(pairs), availability={})
    assert f"data.valid_pairs: {split_sibling(pairs, 'valid')}" in preset.text
