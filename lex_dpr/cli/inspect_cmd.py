"""lex-dpr inspect

Named ``inspect_cmd`` rather than ``inspect``: ``python lex_dpr/cli/main.py`` puts this folder first on
``sys.path``, where a file ``inspect.py`` would stand in for the standard library's ``inspect`` that typer imports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from lex_dpr.cli import _console as console

COLOURS = {"FAIL": "red", "WARN": "yellow", "MISMATCH": "red"}

EXAMPLES = ["lex-dpr inspect runs/static/bi_encoder/final", "lex-dpr inspect downloaded/pytorch_model.bin --json i.json"]


def command(path: Path, json_out: Annotated[Path | None, typer.Option("--json")] = None) -> None:
    """Architecture, sizes, full model or adapter, and how to load a .pt/.bin/.safetensors file or folder."""
    from lex_dpr.audit.describe import describe_path
    from lex_dpr.utils.io import write_json

    r = describe_path(path)
    console.table(str(path), [("architecture", r.architecture), ("kind", r.kind), ("hidden size", r.hidden_size),
                              ("layers", r.layers), ("vocab", r.vocab_size), ("tensors", r.tensors),
                              ("parameters", f"{r.parameters:,}"), ("load with", r.load_hint)], ("", "value"))
    for note in r.notes:  # one line each, whatever the terminal width
        console.out.print(Text(note, style=COLOURS.get(note.split(" ", 1)[0], "")), soft_wrap=True)
    if json_out:
        write_json(json_out, r.to_dict())
    if any(n.startswith(("MISMATCH", "FAIL")) for n in r.notes):  # a pickle that could run code, or a mismatch
        raise typer.Exit(2)
    if not r.tensors:
        console.err.print("[red]no tensor could be read from it[/red]")
        raise typer.Exit(1)
