"""configs/train_lora.yaml: it loads, and a real LoRA training with it writes an adapter on the detected modules."""

from pathlib import Path

import orjson
import pytest

from lex_dpr.training.config import TrainConfig, load_config

ROOT = Path(__file__).resolve().parents[2]
LORA_YAML = ROOT / "configs" / "train_lora.yaml"


def test_train_lora_yaml_loads():
    cfg = load_config(LORA_YAML)
    default = TrainConfig()
    assert cfg.model.name == "multilingual-e5-small" and cfg.out_dir == "runs/lora"
    assert (cfg.lora.enabled, cfg.lora.r, cfg.lora.alpha, cfg.lora.dropout, cfg.lora.target_modules) == (
        True, 8, 16, 0.05, None)
    assert (cfg.trainer.lr, cfg.trainer.batch_size, cfg.trainer.epochs, cfg.data.hard_negatives) == (2e-4, 64, 1, 1)
    assert cfg.trainer.seed == default.trainer.seed and cfg.eval == default.eval  # keys not set keep the defaults


@pytest.mark.slow
def test_lora_training_with_the_shipped_config(sample_training_data, tiny_bert, tmp_path):
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModel

    from lex_dpr.models.lora import detect_target_modules
    from lex_dpr.models.metadata import read_metadata
    from lex_dpr.training.train import train

    overrides = [f"model.name={tiny_bert}", "model.max_seq_length=64", "trainer.max_steps=2", "trainer.batch_size=4",
                 "wandb.mode=disabled", f"out_dir={tmp_path / 'run'}",
                 *(f"data.{k}={v}" for k, v in sample_training_data.items())]
    cfg = load_config(LORA_YAML, overrides)
    result = train(cfg, show_progress=False)
    assert result.steps == 2 and result.final_dir == tmp_path / "run" / "bi_encoder" / "final"
    final = result.final_dir
    assert (final / "adapter_model.safetensors").is_file() and not (final / "model.safetensors").exists()
    meta = read_metadata(final)
    assert meta.adapter is True and meta.base_model == str(tiny_bert) and meta.architecture == "BertModel"

    targets = detect_target_modules(AutoModel.from_pretrained(tiny_bert))
    assert targets == ["query", "value"]
    adapter_cfg = orjson.loads((final / "adapter_config.json").read_bytes())
    assert sorted(adapter_cfg["target_modules"]) == sorted(targets)
    assert (adapter_cfg["r"], adapter_cfg["lora_alpha"], adapter_cfg["lora_dropout"]) == (8, 16, 0.05)
    weights = load_file(str(final / "adapter_model.safetensors"))
    adapted = {name.split(".attention.self.")[1].split(".")[0] for name in weights}
    assert adapted == set(targets) and all("lora_A" in n or "lora_B" in n for n in weights)
    assert len(weights) == 2 * len(targets) * 2  # 2 layers × targets × (A, B)
    assert all(w.shape[0] == 8 for n, w in weights.items() if "lora_A" in n)  # rank r=8 from the yaml
    lora_b = [w for n, w in weights.items() if "lora_B" in n]
    assert any(torch.count_nonzero(w) for w in lora_b)  # B starts at zero: two steps really trained it
    record = orjson.loads((tmp_path / "run" / "bi_encoder" / "training_config.json").read_bytes())
    assert record["status"] == "finished" and record["config"]["trainer"]["lr"] == 2e-4
