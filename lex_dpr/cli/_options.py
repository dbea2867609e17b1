"""Options shared by several commands, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed; same inputs and seed give the same bytes.")]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Exit 1 if anything was skipped.")]
WorkersOpt = Annotated[int, typer.Option("--workers", "--max-workers", min=0, help="Parallel workers (0: all cores).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
PassagesOpt = Annotated[Path, typer.Option("--passages", help="Passage JSONL (e.g. merged_corpus.jsonl).")]
