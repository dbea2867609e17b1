"""The audit zoo, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_models import qwen_model, make_adapter


@pytest.fixture(scope="session")
def zoo(tmp_path_factory) -> dict[str, Path]:
    from transformers import BertConfig, BertModel, ElectraConfig, ElectraModel

    root = tmp_path_factory.mktemp("zoo")
    z = {"base15": qwen_model(root / "Qwen2.5-1.5B-Instruct", 32, 2, 0),
         "base4": qwen_model(root / "Qwen3-4B-Instruct", 48, 4, 1),
         "deep15": qwen_model(root / "Qwen2.5-1.5B-deep", 32, 4, 2)}
    BertModel(BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64)).save_pretrained(root / "tiny-bert")
    ElectraModel(ElectraConfig(vocab_size=100, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                               num_attention_heads=2, intermediate_size=64)).save_pretrained(root / "tiny-electra")
    z["bert"], z["electra"] = root / "tiny-bert", root / "tiny-electra"
    z["lora15"] = make_adapter(z["base15"], root / "lora-1.5b")
    z["lora4"] = make_adapter(z["base4"], root / "lora-4b")
    z["lora_deep"] = make_adapter(z["deep15"], root / "lora-deep-1.5b")
    z["lora_bert"] = make_adapter(z["bert"], root / "lora-bert", targets=("query", "value"))
    return z
