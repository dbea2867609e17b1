"""LoRA adapters (peft) on a transformer encoder's attention projections."""

from __future__ import annotations

from lex_dpr.models.config import LoraConfig
from lex_dpr.errors import ConfigError

# Attention projection names by family; the first family whose names all exist in the model wins.
_TARGETS = [
    ["query", "value"],  # BERT, RoBERTa, XLM-R, ELECTRA
    ["q_proj", "v_proj"],  # LLaMA, Qwen2, Mistral, modern encoders
    ["q_lin", "v_lin"],  # DistilBERT
    ["query_proj", "value_proj"],  # DeBERTa-v2
    ["Wqkv"],  # ModernBERT, NomicBERT (fused)
    ["qkv"],
]


def detect_target_modules(model) -> list[str]:
    """The attention projection names present in ``model`` (a torch module)."""
    import torch

    leaf_names = {name.rsplit(".", 1)[-1] for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
    for family in _TARGETS:
        if set(family) <= leaf_names:
            return family
    raise ConfigError(f"cannot find attention projections to adapt among {sorted(leaf_names)[:12]}; "
                      "set lora.target_modules explicitly")


def add_lora(st_model, cfg: LoraConfig) -> list[str]:
    """Attach a LoRA adapter to a SentenceTransformer's transformer; returns the targeted module names."""
    from peft import LoraConfig as PeftLoraConfig

    targets = cfg.target_modules or detect_target_modules(st_model[0].auto_model)
    peft_config = PeftLoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, target_modules=targets,
                                 task_type="FEATURE_EXTRACTION")
    try:
        st_model.add_adapter(peft_config)
    except ValueError as exc:
        raise ConfigError(f"lora.target_modules={targets}: {exc}") from None
    return targets
