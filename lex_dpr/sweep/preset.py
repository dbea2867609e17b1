"""``sweep preset``: the sweep file users start from, for a transformer bi-encoder or the static model.

The **transformer** family is the seed team's sweep (bayes over lr, temperature, LoRA, batch, negatives,
model and length, 3 epochs). Its ranges make no sense for the static model (lr 1e-4 trains nothing
there), so the **static** family has its own, around the settings measured in the README (lr 0.1,
batch 1,024, temperature 0.05, 10 epochs). Without ``--family`` the preset takes transformer when at least
one of its models can be loaded (a local path, the local Hugging Face cache, or the hub when it is
reachable) and static otherwise, and says which and why. A model that cannot be loaded never goes into
the file silently: it is listed as a comment with the reason.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from lex_dpr.errors import ConfigError
from lex_dpr.mining.split_files import split_base, split_sibling

DATA_DIR = "data/processed"
TRANSFORMER_MODELS = ("ko-simcse", "bge-m3-ko", "multilingual-minilm", "multilingual-e5-small")
FAMILIES = ("static", "transformer")


@dataclass
class Preset:
    family: str
    reason: str
    text: str  # the YAML file, comments included
    unavailable: dict[str, str] = field(default_factory=dict)  # model alias → why it was left out


def model_availability(names=TRANSFORMER_MODELS, allow_network: bool | None = None) -> dict[str, str | None]:
    """Alias → None when loadable here, else the reason. Network only when the hub is not switched off."""
    from lex_dpr.resources import model_aliases

    aliases = model_aliases()
    if allow_network is None:
        allow_network = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("0", "false", "")
    out: dict[str, str | None] = {}
    hub_ok: bool | None = None
    for name in names:
        hub_id = (aliases.get(name) or {}).get("hub_id") or name
        if Path(hub_id).is_dir() or _cached(hub_id):
            out[name] = None
            continue
        if allow_network and hub_ok is None:
            hub_ok = _hub_reachable(hub_id)
        out[name] = None if allow_network and hub_ok else (
            f"{hub_id} is not in the local Hugging Face cache and "
            + ("the hub is unreachable" if allow_network else "HF_HUB_OFFLINE is set"))
    return out


def _cached(hub_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(hub_id, "config.json"), str)
    except Exception:  # a malformed id, an unreadable cache: not loadable from the cache
        return False


def _hub_reachable(hub_id: str) -> bool:
    try:
        from huggingface_hub import model_info

        model_info(hub_id, timeout=3)
        return True
    except Exception:  # offline, DNS failure, gated model: not reachable for our purpose
        return False


def build_preset(family: str | None = None, pairs: str | None = None, passages: str | None = None,
                 valid_pairs: str | None = None, run_cap: int | None = None,
                 availability: dict[str, str | None] | None = None) -> Preset:
    """The preset sweep file for ``family`` (None: transformer if any of its models loads here, else static).

    ``valid_pairs`` defaults to the ``_valid`` sibling of ``pairs``
    (:func:`~lex_dpr.mining.split_files.split_sibling`).
    """
    if family is not None and family not in FAMILIES:
        raise ConfigError(f"--family {family!r} is not one of {', '.join(FAMILIES)}")
    need_models = family in (None, "transformer")
    availability = availability if availability is not None else (model_availability() if need_models else {})
    usable = [m for m, why in availability.items() if why is None]
    unavailable = {m: why for m, why in availability.items() if why is not None}
    if family is None:
        family = "transformer" if usable else "static"
        reason = (f"transformer: {', '.join(usable)} can be loaded here" if usable else
                  "static: none of the transformer models can be loaded here (" + "; ".join(
                      f"{m}: {why}" for m, why in unavailable.items()) + ")")
    else:
        reason = f"{family}: asked for with --family"
    if family == "transformer" and not usable:
        raise ConfigError("--family transformer: none of its models can be loaded here ("
                          + "; ".join(f"{m}: {why}" for m, why in unavailable.items())
                          + "); download one into the Hugging Face cache, or use --family static")
    data = {"data.pairs": pairs or f"{DATA_DIR}/pairs_train.jsonl",
            "data.passages": passages or f"{DATA_DIR}/merged_corpus.jsonl",
            "data.valid_pairs": valid_pairs or str(split_sibling(pairs or f"{DATA_DIR}/pairs_train.jsonl", "valid"))}
    body = _TRANSFORMER if family == "transformer" else _STATIC
    if family == "transformer":
        body = body.replace("{models}", ", ".join(usable))
        if unavailable:
            body = body.replace("  model.name:", "".join(f"  # left out: {m}: {why}\n" for m, why in unavailable.items())
                                + "  model.name:")
    fixed = "".join(f"  {k}: {v}\n" for k, v in data.items())
    cap = f"run_cap: {run_cap}\n" if run_cap else ""
    text = _HEADER.format(family=family, reason=reason) + body + cap + "fixed:\n" + fixed + _FIXED[family]
    return Preset(family, reason, text, unavailable)


def missing_data(preset_text: str) -> list[str]:
    """The data files a preset points at that do not exist, each with the command that makes it."""
    from lex_dpr.utils.config import parse_yaml

    raw = parse_yaml(preset_text, "sweep")
    fixed = raw.get("fixed") if isinstance(raw, dict) else None
    if not isinstance(fixed, dict):
        return []
    makers = {"data.pairs": "lex-dpr make-pairs ... --out {path} (or: bash scripts/pipeline.sh SRC_DIR {dir})",
              "data.valid_pairs": "lex-dpr make-pairs ... --out {sibling} (it writes the _valid split beside it)",
              "data.passages": "lex-dpr merge-corpus ... --out {path} (or: bash scripts/pipeline.sh SRC_DIR {dir})"}
    out = []
    for key, how in makers.items():
        path = fixed.get(key)
        if path and not Path(path).is_file():
            sibling = split_base(path) or path
            out.append(f"{key}: {path} does not exist; make it with "
                       + how.format(path=path, dir=Path(path).parent, sibling=sibling))
    return out


_HEADER = """\
# lex-dpr sweep preset ({family} family). Chosen: {reason}.
# W&B sweep format; runs offline on Optuna: lex-dpr sweep --config THIS_FILE
# Every parameter key is a `lex-dpr train` key; `fixed` applies to every trial.
"""

_TRANSFORMER = """\
method: bayes
metric:
  name: eval/ndcg_at_10
  goal: maximize
parameters:
  trainer.lr:
    distribution: log_uniform_values
    min: 5.0e-7
    max: 1.0e-4
  trainer.temperature:
    distribution: uniform
    min: 0.01
    max: 0.3
  trainer.weight_decay:
    distribution: uniform
    min: 0.01
    max: 0.5
  trainer.warmup_ratio:
    distribution: uniform
    min: 0.0
    max: 0.2
  trainer.gradient_accumulation_steps:
    values: [16, 32, 64]
  trainer.max_grad_norm:
    distribution: uniform
    min: 1.0
    max: 20.0
  lora.r:
    values: [4, 8, 16]
  lora.alpha:
    values: [8, 16, 32]
  lora.dropout:
    distribution: uniform
    min: 0.05
    max: 0.1
  trainer.batch_size:
    values: [32, 64, 128, 256]
  # the seed's data.multiply 0/1/2 (extra copies) is lex-dpr's 1/2/3 (times each example appears)
  data.multiply:
    values: [1, 2, 3]
  data.hard_negative_ratio:
    distribution: uniform
    min: 0.2
    max: 0.6
  data.val_negatives:
    values: [16, 32, 64]
  model.name:
    values: [{models}]
  model.max_seq_length:
    values: [256, 384, 512]
"""

_STATIC = """\
method: bayes
metric:
  name: eval/ndcg_at_10
  goal: maximize
parameters:
  trainer.lr:
    distribution: log_uniform_values
    min: 0.02
    max: 0.5
  trainer.temperature:
    distribution: uniform
    min: 0.02
    max: 0.1
  trainer.batch_size:
    values: [256, 512, 1024]
  trainer.epochs:
    values: [5, 10, 15]
  data.hard_negatives:
    values: [1, 2, 4]
  data.hard_negative_ratio:
    distribution: uniform
    min: 0.5
    max: 1.0
  data.multiply:
    values: [1, 2]
  data.pseudo_queries:
    values: [true, false]
  model.embedding_dim:
    values: [256, 512, 768]
  model.vocab_size:
    values: [15000, 30000]
"""

_FIXED = {
    "transformer": "  trainer.epochs: 3\n  wandb.mode: offline\n",
    "static": "  model.name: static\n  wandb.mode: offline\n",
}
