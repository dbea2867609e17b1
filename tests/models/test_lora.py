"""lex_dpr.models.lora: which attention projections LoRA adapts, per architecture, and add_lora's errors."""

import pytest
import torch

from lex_dpr.errors import ConfigError
from lex_dpr.models.config import LoraConfig
from lex_dpr.models.lora import add_lora, detect_target_modules


def _qwen2():
    from transformers import Qwen2Config, Qwen2Model

    torch.manual_seed(0)
    return Qwen2Model(Qwen2Config(vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                  num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64))


def _distilbert():
    from transformers import DistilBertConfig, DistilBertModel

    return DistilBertModel(DistilBertConfig(vocab_size=100, dim=32, n_layers=1, n_heads=2, hidden_dim=64,
                                            max_position_embeddings=64))


def _gpt2():
    from transformers import GPT2Config, GPT2Model

    return GPT2Model(GPT2Config(vocab_size=100, n_embd=32, n_layer=1, n_head=2, n_positions=64))


def test_bert_query_value(tiny_bert):
    from transformers import AutoModel

    assert detect_target_modules(AutoModel.from_pretrained(tiny_bert)) == ["query", "value"]


def test_qwen2_q_proj_v_proj():
    model = _qwen2()
    assert {"q_proj", "k_proj", "v_proj", "o_proj"} <= {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
    assert detect_target_modules(model) == ["q_proj", "v_proj"]


def test_distilbert_q_lin_v_lin():
    assert detect_target_modules(_distilbert()) == ["q_lin", "v_lin"]


class _Toy(torch.nn.Module):
    def __init__(self, *names):
        super().__init__()
        self.block = torch.nn.ModuleDict({n: torch.nn.Linear(4, 4) for n in names})


@pytest.mark.parametrize(("names", "want"), [
    (("Wqkv", "Wo"), ["Wqkv"]),  # ModernBERT: fused projections
    (("qkv", "proj"), ["qkv"]),
    (("query_proj", "key_proj", "value_proj"), ["query_proj", "value_proj"]),  # DeBERTa-v2
    (("query", "value", "q_proj", "v_proj"), ["query", "value"]),  # the first family listed wins
])
def test_other_families(names, want):
    assert detect_target_modules(_Toy(*names)) == want


def test_no_attention_projections_is_a_config_error_naming_the_setting():
    with pytest.raises(ConfigError) as caught:
        detect_target_modules(_Toy("fc1", "fc2", "query"))  # query without value is not a family
    assert str(caught.value) == ("cannot find attention projections to adapt among ['fc1', 'fc2', 'query']; "
                                 "set lora.target_modules explicitly")
    with pytest.raises(ConfigError, match=r"among \[\]; set lora\.target_modules explicitly"):
        detect_target_modules(_gpt2())  # GPT-2's c_attn is a Conv1D, not a Linear


def test_add_lora_uses_the_detected_or_the_given_modules(tiny_bert):
    from lex_dpr.models.loading import load_encoder

    model = load_encoder(tiny_bert, device="cpu")
    assert add_lora(model, LoraConfig(r=4)) == ["query", "value"]
    lora = [n for n, _ in model.named_parameters() if "lora_" in n]
    assert len(lora) == 2 * 2 * 2  # 2 layers × (query, value) × (A, B)
    assert all(".attention.self.query." in n or ".attention.self.value." in n for n in lora)
    other = load_encoder(tiny_bert, device="cpu")
    assert add_lora(other, LoraConfig(r=4, target_modules=["key"])) == ["key"]
    assert {n.split(".attention.self.")[1].split(".")[0] for n, _ in other.named_parameters() if "lora_" in n} == {"key"}
    with pytest.raises(ConfigError, match=r"^lora\.target_modules=\['no_such_layer'\]: "):
        add_lora(load_encoder(tiny_bert, device="cpu"), LoraConfig(target_modules=["no_such_layer"]))
