"""The small JSON file written beside every checkpoint so that loading never has to guess."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import orjson

from lex_dpr.utils.io import write_json

METADATA_FILE = "lexdpr_model.json"


@dataclass
class ModelMetadata:
    kind: str  # static | transformer | ensemble
    architecture: str  # e.g. StaticEmbedding, BertModel
    base_model: str | None  # hub id or path of the pretrained base (None for static)
    adapter: bool  # True: the folder holds a LoRA adapter over base_model
    query_prompt: str | None
    passage_prompt: str | None
    max_seq_length: int | None
    embedding_dim: int
    lex_dpr_version: str = ""
    teacher: str | None = None  # static only: the transformer its token vectors were distilled from
    text_form: str = "text"  # static only: "morphemes" when it reads Kiwi morphemes (lex_dpr.models.morphemes)
    kiwi_settings: str | None = None  # text_form morphemes: lex_dpr.data.tokenize.settings_key() it was trained with

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def write_metadata(folder: str | Path, meta: ModelMetadata) -> None:
    from lex_dpr import __version__

    meta.lex_dpr_version = __version__
    write_json(Path(folder) / METADATA_FILE, meta.to_dict())


def read_metadata(folder: str | Path) -> ModelMetadata | None:
    path = Path(folder) / METADATA_FILE
    if not path.is_file():
        return None
    raw = orjson.loads(path.read_bytes())
    known = {f.name for f in fields(ModelMetadata)}
    return ModelMetadata(**{k: v for k, v in raw.items() if k in known})
