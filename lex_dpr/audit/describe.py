"""What is this file? Architecture, sizes and how to load it, from tensor names and shapes alone.

Example:
    >>> description = describe_path("runs/static/bi_encoder/final")  # doctest: +SKIP
    >>> description.architecture, description.kind  # doctest: +SKIP
    ('static embedding', 'lex-dpr checkpoint')
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lex_dpr.audit.files import open_regular, read_json_object
from lex_dpr.audit.headers import PICKLE_SUFFIXES, TensorInfo, read_safetensors_header
from lex_dpr.audit.models import layer_index
from lex_dpr.audit.pickle_scan import PickleScan, scan_pickle_file
from lex_dpr.errors import InputError
from lex_dpr.utils.lfs import require_no_lfs_pointers, require_not_lfs_pointer


@dataclass
class ModelDescription:
    """What ``lex-dpr inspect`` prints about a weights file or folder; ``--json`` writes :meth:`to_dict`."""

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
    """Tensors from the weights a loader would read; every pickle file is scanned and reported when unsafe, and
    a pickle beside safetensors weights is reported whatever its verdict (a loader may read it instead)."""
    notes: list[str] = []
    if path.is_file():
        files, extra = [path], []
    else:
        safetensors = sorted(path.glob("*.safetensors")) + sorted(path.glob("*/*.safetensors"))
        pickles = sorted(p for p in path.iterdir() if p.suffix in PICKLE_SUFFIXES)
        files, extra = (safetensors, pickles) if safetensors else (pickles, [])
    tensors: dict[str, TensorInfo] = {}
    for f in files:
        if f.suffix == ".safetensors":
            tensors |= read_safetensors_header(f)
            continue
        scan = scan_pickle_file(f)
        if scan.readable:
            tensors |= scan.tensors
        else:
            notes.append(_pickle_note(f, scan))
    for f in extra:
        notes.append(_pickle_note(f, scan_pickle_file(f), beside=True))
    return tensors, notes


def _pickle_note(path: Path, scan: PickleScan, beside: bool = False) -> str:
    """``FAIL pickle: NAME: reason`` when loading it could run code, else ``WARN pickle: ...``."""
    where = " (beside the safetensors weights)" if beside else ""
    return f"{'FAIL' if scan.unsafe else 'WARN'} pickle: {path.name}{where}: {scan.summary()}"


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


def describe_path(path: str | Path) -> ModelDescription:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_dir():  # weights, tokenizer, configs: an un-pulled clone is named before anything is read
        require_no_lfs_pointers(path)
    else:
        open_regular(path, "weights file").close()  # a FIFO or device is named, never read
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
    meta = _read_metadata(folder)
    kind = "adapter" if arch == "lora adapter" else "full model"
    if meta is not None:
        kind = "lex-dpr checkpoint"
        notes += _check_metadata(meta, arch, hidden)
    hint = _load_hint(path, arch, meta is not None)
    if any(n.startswith("FAIL") for n in notes):
        hint = "do not load it: a pickle file here could run code (see the FAIL line); ask for safetensors weights"
    return ModelDescription(str(path), arch, kind, hidden, layers, vocab, len(tensors),
                         sum(t.numel for t in tensors.values()), hint, notes, meta.to_dict() if meta else None)


def _read_metadata(folder: Path):
    """lex-dpr's metadata file, read only when it is a regular JSON object of a sane size."""
    from lex_dpr.models.metadata import METADATA_FILE, read_metadata

    path = folder / METADATA_FILE
    if not os.path.lexists(path):
        return None
    read_json_object(path)  # one-line errors: not a regular file, too large, invalid JSON, not an object
    try:
        return read_metadata(folder)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{path}: not valid lex-dpr metadata ({exc}); save the model again or delete the file") from None


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
