"""``data.extra_pairs``: synthetic pairs join the training set (never validation), are checked and hashed."""

import sys
from pathlib import Path

import orjson
import pytest

from lex_dpr.errors import ConfigError
from lex_dpr.synth.run import SynthJob, run_synth
from lex_dpr.training.config import load_config, resolve_data_paths

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _cli import lex_dpr  # noqa: E402


@pytest.fixture(scope="module")
def synthetic(sample_training_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("extra") / "synthetic.jsonl"
    run_synth(SynthJob(passages=str(sample_training_data["passages"]), out=str(out), n=12), show_progress=False)
    return out


def _overrides(data: dict[str, Path], *extra: str) -> list[str]:
    return [f"data.{k}={v}" for k, v in data.items()] + list(extra)


def test_missing_extra_pairs_are_named_with_their_index(sample_training_data, synthetic, tmp_path):
    cfg = load_config(None, _overrides(sample_training_data, f"data.extra_pairs=[{synthetic}, {tmp_path / 'gone.jsonl'}]"))
    with pytest.raises(ConfigError, match=r"'data.extra_pairs\[1\]': .*gone.jsonl: file not found"):
        resolve_data_paths(cfg)
    cfg = load_config(None, _overrides(sample_training_data, f"data.extra_pairs={synthetic}"))
    assert cfg.data.extra_pairs == [str(synthetic)] and resolve_data_paths(cfg) == []


def test_train_check_checks_extra_pairs(sample_training_data, synthetic, tmp_path):
    r = lex_dpr(["train", "--check", *_overrides(sample_training_data, f"data.extra_pairs={tmp_path / 'no.jsonl'}")])
    assert r.exit_code == 2 and "data.extra_pairs[0]" in r.output
    r = lex_dpr(["train", "--check", *_overrides(sample_training_data, f"data.extra_pairs={synthetic}")])
    assert r.exit_code == 0 and f"data.extra_pairs=[{synthetic}]" in r.output.replace("'", "")


def test_extra_pairs_are_training_rows_only(sample_training_data, synthetic, monkeypatch):
    from lex_dpr.training import train as train_module

    seen = {}
    monkeypatch.setattr(train_module, "train_model",
                        lambda cfg, corpus, train_pairs, valid_pairs, *a, **k: seen.update(train=train_pairs, valid=valid_pairs))
    train_module.train(load_config(None, _overrides(sample_training_data, f"data.extra_pairs={synthetic}", "out_dir=x")))
    with_extra = seen.copy()
    train_module.train(load_config(None, _overrides(sample_training_data, "out_dir=x")))
    synth_ids = {orjson.loads(line)["query_id"] for line in synthetic.read_bytes().splitlines()}
    assert len(with_extra["train"]) == len(seen["train"]) + 12
    assert {p["query_id"] for p in with_extra["train"]} - {p["query_id"] for p in seen["train"]} == synth_ids
    assert not synth_ids & {p["query_id"] for p in with_extra["valid"]} and with_extra["valid"] == seen["valid"]


@pytest.mark.slow
def test_a_run_records_the_extra_pairs_hash_and_resume_sees_a_change(sample_training_data, synthetic, tmp_path):
    from lex_dpr.training.train import RUN_SUBDIR, resume_changes

    extra = tmp_path / "synthetic.jsonl"
    extra.write_bytes(synthetic.read_bytes())
    out = tmp_path / "run"
    r = lex_dpr(["train", *_overrides(sample_training_data, f"data.extra_pairs={extra}"), "model.vocab_size=400",
                 "model.embedding_dim=16", "trainer.batch_size=8", "trainer.epochs=1", "wandb.mode=disabled",
                 "--out-dir", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    run_dir = out / RUN_SUBDIR
    record = orjson.loads((run_dir / "training_config.json").read_bytes())
    assert record["inputs"]["extra_pairs[0]"]["path"] == str(extra)
    cfg = load_config(None, _overrides(sample_training_data, f"data.extra_pairs={extra}", "model.vocab_size=400",
                                       "model.embedding_dim=16", "trainer.batch_size=8", "trainer.epochs=1",
                                       "wandb.mode=disabled", f"out_dir={out}"))
    resolve_data_paths(cfg)
    inputs = {"pairs": cfg.data.pairs, "valid_pairs": cfg.data.valid_pairs, "passages": cfg.data.passages,
              "extra_pairs[0]": str(extra)}
    assert resume_changes(run_dir, cfg, inputs) == []
    extra.write_bytes(synthetic.read_bytes().splitlines(keepends=True)[0])
    assert resume_changes(run_dir, cfg, inputs) == [f"extra_pairs[0]: {extra} differs from the file the run started with (sha256)"]
