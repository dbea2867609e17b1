"""Package data shipped inside the wheel: the model alias table and the default configs.

Read with :mod:`importlib.resources`, so it works from a checkout, an installed wheel or a zip.

Example:
    >>> "static" in model_aliases()
    True
    >>> sorted(bundled_configs())
    ['train', 'train_lora']
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any


def resource_text(name: str) -> str:
    """The text of a file in ``lex_dpr/resources/`` (``"models.yaml"``, ``"configs/train.yaml"``)."""
    node = resources.files(__package__)
    for part in name.split("/"):
        node = node.joinpath(part)
    return node.read_text(encoding="utf-8")


def model_aliases() -> dict[str, dict[str, Any]]:
    """The aliases accepted by ``model.name``: hub id, prompts and max length per short name."""
    import yaml

    return yaml.safe_load(resource_text("models.yaml"))


def bundled_configs() -> dict[str, str]:
    """Config name → YAML text for the default configs shipped with lex-dpr (``--config train_lora``)."""
    folder = resources.files(__package__).joinpath("configs")
    return {p.name.removesuffix(".yaml"): p.read_text(encoding="utf-8")
            for p in folder.iterdir() if p.name.endswith(".yaml")}


def bundled_config(name: str) -> str | None:
    """The YAML text of a bundled config (``train``, ``train.yaml`` or ``configs/train.yaml``), else None."""
    return bundled_configs().get(Path(name).name.removesuffix(".yaml"))
