"""What is this file? Architecture, sizes and how to load it, from tensor names and shapes alone.

Example:
    >>> report = inspect_path("runs/static/bi_encoder/final")  # doctest: +SKIP
    >>> report.architecture, report.kind  # doctest: +SKIP
    ('static embedding', 'lex-dpr checkpoint')
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lex_dpr.audit.headers import TensorInfo, read_safetensors_header
from lex_dpr.audit.models import layer_index
from lex_dpr.audit.pickle_scan import scan_pickle_file
from lex_dpr.errors import InputError
from lex_dpr.utils.lfs import require_no_lfs_pointers, require_not_lfs_pointer


@dataclass
class InspectReport:
    path: str
    architecture: str
    kind: str  # full model | adapter | lex-dpr checkpoint | ...
    hidden_size: int | None
    layers: int | None
    vocab_size: int | None
    tensors: int
    parameters: int
    load_hint: str
    notes: list[str] = field(default_factory=list)
    metadata: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _collect(path: Path) -> tuple[dict[str, TensorInfo], list[str]]:
    notes = []
    files = [path] if path.is_file() else sorted(path.glob("*.safetensors")) + sorted(path.glob("*/*.safetensors"))
    if path.is_dir() and not files:
        files = sorted(p for p in path.glob("*") if p.suffix in (".bin", ".pt", ".pth"))
    tensors: dict[str, TensorInfo] = {}
    for f in files:
        if f.suffix == ".safetensors":
            tensors |= read_safetensors_header(f)
        else:
            scan = scan_pickle_file(f)
            if scan.dangerous:
                notes.append(f"{f.name}: DANGEROUS pickle imports {scan.dangerous}; do not load it")
            elif scan.error:
                notes.append(f"{f.name}: pickle: not inspected ({scan.error})")
            tensors |= scan.tensors
    return tensors, notes


def detect(keys: list[str], tensors: dict[str, TensorInfo]) -> str:
    joined = "\n".join(keys)
    if any("lora_A" in k for k in keys):
        return "lora adapter"
    if keys == ["embedding.weight"] or "embeddings" in keys and len(keys) <= 3:
        return "static embedding"
    if re.search(r"self_attn\.q_proj", joined):
        return "qwen2" if re.search(r"self_attn\.q_proj\.bias", joined) else "llama/mistral"
    if "embeddings_project" in joined or joined.startswith("electra.") or "\nelectra." in joined:
        return "electra"
    if "roberta." in joined or any(k.endswith("position_embeddings.weight") and tensors[k].shape[0] in (514, 8194)
                                   for k in keys):
        vocab = next((tensors[k].shape[0] for k in keys if k.endswith("word_embeddings.weight")), 0)
        return "xlm-roberta" if vocab >= 250000 else "roberta"
    if "attention.self.query" in joined:
        return "bert" if "pooler" in joined or "bert." in joined else "bert-like (bert or electra without projection)"
    return "unknown"


def inspect_path(path: str | Path) -> InspectReport:
    from lex_dpr.models.metadata import read_metadata

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_dir():  # weights, tokenizer, configs: an un-pulled clone is named before anything is read
        require_no_lfs_pointers(path)
    else:
        require_not_lfs_pointer(path)
    tensors, notes = _collect(path)
    if not tensors and not notes:
        raise InputError(f"{path}: no .safetensors/.bin/.pt weights found")
    keys = sorted(tensors)
    arch = detect(keys, tensors)
    hidden = vocab = None
    for k in keys:
        if re.search(r"(word_embeddings|embed_tokens|wte)\.weight$|^embedding\.weight$", k):
            vocab, hidden = tensors[k].shape[0], tensors[k].shape[-1]
            break
    proj = next((tensors[k] for k in keys if k.endswith("embeddings_project.weight")), None)
    if proj is not None:
        hidden = proj.shape[0]  # ELECTRA: embeddings are narrower than the hidden layers
    layers = max((i for i in (layer_index(k) for k in keys) if i is not None), default=-1) + 1 or None
    folder = path if path.is_dir() else path.parent
    meta = read_metadata(folder)
    kind = "adapter" if arch == "lora adapter" else "full model"
    if meta is not None:
        kind = "lex-dpr checkpoint"
        notes += _check_metadata(meta, arch, hidden)
    hint = _load_hint(path, arch, meta is not None)
    return InspectReport(str(path), arch, kind, hidden, layers, vocab, len(tensors),
                         sum(t.numel for t in tensors.values()), hint, notes, meta.to_dict() if meta else None)


def _check_metadata(meta, arch: str, hidden: int | None) -> list[str]:
    notes = []
    if meta.kind == "static" and arch != "static embedding":
        notes.append(f"MISMATCH: metadata says static, weights look like {arch}")
    if meta.kind == "transformer" and arch == "static embedding":
        notes.append(f"MISMATCH: metadata says {meta.architecture}, weights are a static embedding")
    if hidden and meta.kind == "static" and meta.embedding_dim != hidden:
        notes.append(f"MISMATCH: metadata embedding_dim {meta.embedding_dim}, weights {hidden}")
    if meta.adapter and arch != "lora adapter":
        notes.append("MISMATCH: metadata says adapter, but no LoRA tensors found")
    return notes or [f"metadata consistent with the weights ({meta.kind}, {meta.architecture})"]


def _load_hint(path: Path, arch: str, lexdpr: bool) -> str:
    if lexdpr:
        return f"lex_dpr.models.loading.load_encoder('{path}')"
    if arch == "lora adapter":
        return f"PeftModel.from_pretrained(base_model, '{path}')  # then: lex-dpr audit-adapter {path} --base BASE"
    if path.suffix in (".bin", ".pt", ".pth"):
        return f"torch.load('{path}', weights_only=True)  # never weights_only=False on a downloaded file"
    if path.is_dir() and (path / "modules.json").is_file():
        return f"SentenceTransformer('{path}')"
    return f"AutoModel.from_pretrained('{path if path.is_dir() else path.parent}')"
