"""Model aliases (the bundled models.yaml) resolved to a hub id or path, prompts and max length."""

from __future__ import annotations

from dataclasses import dataclass

from lex_dpr.models.config import ModelConfig
from lex_dpr.resources import model_aliases


@dataclass
class ModelSpec:
    """What to load and how to prompt it, after aliases and config overrides are applied."""

    name: str  # what the user asked for
    source: str | None  # hub id or local path; None for the static model
    query_prompt: str | None
    passage_prompt: str | None
    max_seq_length: int


def resolve(cfg: ModelConfig) -> ModelSpec:
    """Apply the alias table, then the config's explicit prompts and length.

    Example:
        >>> from lex_dpr.models.config import ModelConfig
        >>> resolve(ModelConfig(name="multilingual-e5-small")).query_prompt
        'query: '
    """
    alias = model_aliases().get(cfg.name, {})
    source = alias.get("hub_id") if alias else cfg.name
    return ModelSpec(
        name=cfg.name,
        source=None if cfg.name == "static" else source,
        query_prompt=cfg.query_prompt if cfg.query_prompt is not None else alias.get("query_prompt"),
        passage_prompt=cfg.passage_prompt if cfg.passage_prompt is not None else alias.get("passage_prompt"),
        max_seq_length=cfg.max_seq_length or alias.get("max_seq_length") or 256,
    )


def resolve_name(name: str) -> str:
    """An alias's hub id, or ``name`` itself (a hub id or a path).

    Example:
        >>> resolve_name("multilingual-e5-small"), resolve_name("/models/mine")
        ('intfloat/multilingual-e5-small', '/models/mine')
    """
    return model_aliases().get(name, {}).get("hub_id") or name
