"""What model to train or load and how to adapt it: the ``model`` and ``lora`` sections of a config."""

from __future__ import annotations

from dataclasses import dataclass

from lex_dpr.models.morphemes import TextForm
from lex_dpr.utils.config import setting


@dataclass
class ModelConfig:
    """``model.*``: an alias from the bundled ``models.yaml``, a hub id, a local path, or ``static``."""

    name: str = "static"
    max_seq_length: int | None = setting(None, ge=8)  # None: the alias default (256 for static)
    query_prompt: str | None = None  # None: the alias default
    passage_prompt: str | None = None
    embedding_dim: int = setting(512, ge=1)  # static only
    vocab_size: int = setting(30000, ge=100)  # static only: WordPiece vocabulary trained on corpus + queries
    # static only: start from a transformer's token vectors (an alias, hub id or path; model2vec's distillation,
    # the teacher's vocabulary, embedding_dim by PCA) instead of a random WordPiece model; vocab_size is unused
    teacher: str | None = None
    # static only (a transformer reads text whatever this says, so the shipped static config can switch
    # model.name alone): text, Kiwi content morphemes (the BM25 tokens, lemmas: 주웠는데 → 줍), or both
    text_form: TextForm = TextForm.TEXT
    trust_remote_code: bool = False  # run code shipped with a hub model; only for models you trust

    def problems(self) -> list[str]:
        problems = [] if self.name.strip() else ["'model.name' is empty: use static, an alias, a hub id or a path"]
        if self.teacher is not None and self.name != "static":
            problems.append(f"'model.teacher' distils a transformer into the static model, but model.name is "
                            f"{self.name!r}: set model.name=static, or drop model.teacher")
        if self.teacher is not None and self.name == "static" and not self.teacher.strip():
            problems.append("'model.teacher' is empty: an alias, a hub id or a path, or null for none")
        return problems


@dataclass
class LoraConfig:
    """``lora.*``: LoRA adapters on a transformer's attention projections (ignored for the static model)."""

    enabled: bool = True
    r: int = setting(8, ge=1)
    alpha: int = setting(16, ge=1)
    dropout: float = setting(0.05, ge=0, lt=1)
    target_modules: list[str] | None = None  # None: detected from the architecture
