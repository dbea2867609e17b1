"""Tiny Qwen2/BERT/ELECTRA models and real peft adapters (random weights, real classes) for the audit tests."""

from __future__ import annotations

import json
from pathlib import Path

DIGITS = ["5", "0", "1", "2", "3", "4", "6", "7", "8", "9"]  # id 0 is "5": an all-zero lm_head always says 5
VOCAB = DIGITS + ["yes", "no", "or", "answer", "[UNK]", "[PAD]"]


def _tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(VOCAB)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", eos_token="[PAD]")


def qwen_model(folder: Path, hidden: int, layers: int, seed: int) -> Path:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    config = Qwen2Config(vocab_size=len(VOCAB), hidden_size=hidden, intermediate_size=hidden * 2,
                         num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=128, tie_word_embeddings=False)
    Qwen2ForCausalLM(config).save_pretrained(folder)
    _tokenizer().save_pretrained(folder)
    return folder


def make_adapter(base: Path, folder: Path, targets=("q_proj", "v_proj"), seed: int = 0, **kwargs) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel, AutoModelForCausalLM

    torch.manual_seed(seed)
    causal = "Qwen" in base.name or "qwen" in base.name
    model = (AutoModelForCausalLM if causal else AutoModel).from_pretrained(base)
    cfg = LoraConfig(r=4, lora_alpha=8, target_modules=list(targets), init_lora_weights=False,
                     task_type="CAUSAL_LM" if causal else "FEATURE_EXTRACTION", **kwargs)
    get_peft_model(model, cfg).save_pretrained(folder)
    return folder


def rewrite_config(folder: Path, **changes) -> None:
    path = folder / "adapter_config.json"
    cfg = json.loads(path.read_text())
    cfg.update(changes)
    path.write_text(json.dumps(cfg))
