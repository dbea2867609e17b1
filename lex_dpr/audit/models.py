"""What an audit knows about a base model and an adapter folder: configs, tensor headers, names, claims."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lex_dpr.audit.headers import TensorInfo, read_weight_headers
from lex_dpr.errors import InputError
from lex_dpr.utils.io import read_json_file
from lex_dpr.utils.lfs import require_not_lfs_pointer

_LAYER = re.compile(r"\.(?:layers|layer|h|blocks|block)\.(\d+)\.")
# "1.5B", "4b", "7B", "560M"; not the 4 in "bnb-4bit" or "Int4"
_SIZE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s?([bBmM])(?![a-zA-Z0-9])")
_VARIANTS = {"instruct": re.compile(r"instruct|[-_]chat\b|[-_]it\b", re.IGNORECASE),
             "gptq": re.compile(r"gptq", re.IGNORECASE), "awq": re.compile(r"\bawq\b|-awq", re.IGNORECASE),
             "bnb-4bit": re.compile(r"bnb|4bit|8bit", re.IGNORECASE), "int4": re.compile(r"int4|int8", re.IGNORECASE)}


def size_tokens(text: str) -> list[float]:
    """Model sizes named in free text, in parameters.

    Example:
        >>> size_tokens("Qwen2.5-1.5B-Instruct, bnb-4bit, my-adapter-4b, e5-560m")
        [1500000000.0, 4000000000.0, 560000000.0]
    """
    return [float(n) * (1e9 if unit in "bB" else 1e6) for n, unit in _SIZE.findall(text)]


def variant_tokens(text: str) -> set[str]:
    return {name for name, rx in _VARIANTS.items() if rx.search(text)}


def layer_index(module: str) -> int | None:
    m = _LAYER.search(f".{module}.")
    return int(m.group(1)) if m else None


def resolve_folder(name_or_path: str | Path) -> Path:
    """A local folder, or a hub id found in the local HF cache (downloaded only where a network exists)."""
    path = Path(name_or_path)
    if path.is_dir():
        return path
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(str(name_or_path), allow_patterns=["*.json", "*.safetensors", "*.md"]))
    except Exception as exc:  # offline and not cached, bad id, ...
        raise InputError(f"{name_or_path}: not a folder and not in the local Hugging Face cache "
                         f"({type(exc).__name__})") from None


def read_folder_config(name_or_path: str | Path, filename: str, what: str) -> tuple[Path, dict[str, Any]]:
    """The resolved folder and its JSON config, with one clear error when either is wrong."""
    path = resolve_folder(name_or_path)
    cfg_path = path / filename
    if not cfg_path.is_file():
        raise InputError(f"{path}: no {filename}; is this a {what} folder?")
    require_not_lfs_pointer(cfg_path)
    data = read_json_file(cfg_path)
    if not isinstance(data, dict):
        raise InputError(f"{cfg_path}: expected a JSON object")
    return path, data


@dataclass
class BaseModel:
    path: Path
    config: dict[str, Any]
    tensors: dict[str, TensorInfo]
    pickles: list[str]
    modules: dict[str, tuple[int, ...]] = field(default_factory=dict)  # module path → weight shape [out, in]

    @classmethod
    def load(cls, name_or_path: str | Path) -> BaseModel:
        path, config = read_folder_config(name_or_path, "config.json", "base model")
        if isinstance(config.get("text_config"), dict):  # multimodal wrappers keep the LM config inside
            config = {**config["text_config"], **{k: v for k, v in config.items() if k != "text_config"}}
        tensors, pickles = read_weight_headers(path)
        if not tensors:  # pytorch_model.bin only: a pointer there means the weights were never pulled
            for pkl in pickles:
                require_not_lfs_pointer(pkl)
        base = cls(path, config, tensors, pickles)
        for name, info in tensors.items():
            if name.endswith(".weight"):
                module = name[: -len(".weight")]
                parts = module.split(".")
                for i in range(len(parts)):  # register every suffix: prefixes differ by model class
                    base.modules.setdefault(".".join(parts[i:]), info.shape)
        return base

    @property
    def name(self) -> str:
        return str(self.config.get("_name_or_path") or self.path.name)

    @property
    def names_text(self) -> str:
        return f"{self.path.name} {self.config.get('_name_or_path', '')}"

    def get(self, key: str, default: Any = None) -> Any:
        return self.config.get(key, default)

    @property
    def n_layers(self) -> int | None:
        return self.get("num_hidden_layers") or self.get("n_layer")

    @property
    def parameters(self) -> int:
        """From the weight headers when present, else estimated from config.json."""
        if self.tensors:
            return sum(t.numel for t in self.tensors.values())
        h, inter = self.get("hidden_size", 0), self.get("intermediate_size", 0)
        layers, vocab = self.n_layers or 0, self.get("vocab_size", 0)
        heads = self.get("num_attention_heads", 1)
        kv, hd = self.get("num_key_value_heads", heads), self.get("head_dim") or (h // max(heads, 1))
        attn = h * heads * hd * 2 + h * kv * hd * 2
        mlp = h * inter * (3 if self.get("hidden_act", "") in ("silu", "swiglu") else 2)
        emb = vocab * h * (1 if self.get("tie_word_embeddings", True) else 2)
        return int(emb + layers * (attn + mlp))


@dataclass
class Adapter:
    path: Path
    config: dict[str, Any]
    tensors: dict[str, TensorInfo]
    pickles: list[str]
    readme: str
    extra_names: str  # dataset / metadata names from other JSON files

    @classmethod
    def load(cls, name_or_path: str | Path) -> Adapter:
        path, config = read_folder_config(name_or_path, "adapter_config.json", "PEFT adapter")
        tensors, pickles = read_weight_headers(path)
        if not tensors:  # adapter_model.bin only: shapes from the symbolic scan, never from unpickling
            from lex_dpr.audit.pickle_scan import scan_pickle_file

            for pkl in pickles:
                scan = scan_pickle_file(pkl)
                if not scan.error and not scan.dangerous:
                    tensors |= scan.tensors
            if not tensors:  # an un-pulled LFS clone: say so rather than "no weights"
                for pkl in pickles:
                    require_not_lfs_pointer(pkl)
        readme = (path / "README.md").read_text(encoding="utf-8", errors="replace") if (path / "README.md").is_file() else ""
        extra = []
        for meta in ("training_args.json", "trainer_state.json", "metadata.json", "dataset_info.json"):
            if (path / meta).is_file():
                extra.append((path / meta).read_text(encoding="utf-8", errors="replace")[:20000])
        return cls(path, config, tensors, pickles, readme, "\n".join(extra))

    def lora_modules(self) -> dict[str, dict[str, TensorInfo]]:
        """Module path (prefixes stripped) → {"A": lora_A info, "B": lora_B info}."""
        out: dict[str, dict[str, TensorInfo]] = {}
        for name, info in self.tensors.items():
            m = re.match(r"^(?:base_model\.model\.)?(.+)\.lora_([AB])(?:\.[\w-]+)?\.weight$", name)
            if m:
                out.setdefault(m.group(1), {})[m.group(2)] = info
        return out

    def saved_modules(self) -> dict[str, TensorInfo]:
        """modules_to_save tensors (full copies, e.g. embeddings or lm_head)."""
        out = {}
        for name, info in self.tensors.items():
            if "lora_" in name:
                continue
            key = re.sub(r"^base_model\.model\.", "", name)
            out[re.sub(r"\.modules_to_save\.[\w-]+", "", key)] = info
        return out
