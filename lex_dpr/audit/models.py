"""What an audit knows about a base model and an adapter folder: configs, tensor headers, names, claims."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from lex_dpr.audit.files import json_kind, read_head, read_json_object
from lex_dpr.audit.headers import TensorInfo, read_weight_headers
from lex_dpr.errors import InputError
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
    if not cfg_path.exists():
        raise InputError(f"{path}: no {filename}; is this a {what} folder?")
    require_not_lfs_pointer(cfg_path)
    return path, read_json_object(cfg_path)


_INT, _NUMBER, _STR, _STRS, _DICT = "a positive integer", "a number", "a string", "a list of strings", "an object"
# adapter_config.json / config.json keys the audit computes with, and the JSON type each must have (or be null)
ADAPTER_KEYS = {"r": _INT, "lora_alpha": _NUMBER, "target_modules": "a list of module names or a regex string",
                "modules_to_save": _STRS, "rank_pattern": _DICT, "alpha_pattern": _DICT,
                "base_model_name_or_path": _STR, "peft_type": _STR, "task_type": _STR}
BASE_KEYS = {**{k: _INT for k in ("hidden_size", "n_embd", "num_attention_heads", "n_head", "num_key_value_heads",
                                  "head_dim", "intermediate_size", "vocab_size", "num_hidden_layers", "n_layer")},
             "architectures": _STRS, "_name_or_path": _STR, "model_type": _STR, "hidden_act": _STR,
             "text_config": _DICT}


def _fits(value: Any, kind: str) -> bool:
    if value is None:
        return True
    if kind == _INT:  # r: 0 is the rank check's FAIL, not a malformed file
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if kind == _NUMBER:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == _STR:
        return isinstance(value, str)
    if kind == _DICT:
        return isinstance(value, dict)
    strings = isinstance(value, list) and all(isinstance(v, str) for v in value)
    return strings or (isinstance(value, str) and kind != _STRS)


def check_config_types(cfg_path: Path, config: dict[str, Any], keys: dict[str, str]) -> None:
    """:class:`InputError` naming the first key whose value has the wrong JSON type (``r: "four"``)."""
    for key, kind in keys.items():
        value = config.get(key)
        if not _fits(value, kind):
            shown = orjson.dumps(value).decode()
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            raise InputError(f"{cfg_path}: {key} is {shown} ({json_kind(value)}), expected {kind}; fix the file")


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
        check_config_types(path / "config.json", config, BASE_KEYS)
        if isinstance(config.get("text_config"), dict):  # multimodal wrappers keep the LM config inside
            config = {**config["text_config"], **{k: v for k, v in config.items() if k != "text_config"}}
            check_config_types(path / "config.json", config, BASE_KEYS)
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
        check_config_types(path / "adapter_config.json", config, ADAPTER_KEYS)
        tensors, pickles = read_weight_headers(path)
        if not tensors:  # adapter_model.bin only: shapes from the symbolic scan, never from unpickling
            from lex_dpr.audit.pickle_scan import scan_pickle_file

            for pkl in pickles:
                scan = scan_pickle_file(pkl)
                if scan.readable:
                    tensors |= scan.tensors
            if not tensors:  # an un-pulled LFS clone: say so rather than "no weights"
                for pkl in pickles:
                    require_not_lfs_pointer(pkl)
        readme = read_head(path / "README.md", 1 << 20) if (path / "README.md").is_file() else ""
        extra = []
        for meta in ("training_args.json", "trainer_state.json", "metadata.json", "dataset_info.json"):
            if (path / meta).is_file():
                extra.append(read_head(path / meta, 20000))
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
