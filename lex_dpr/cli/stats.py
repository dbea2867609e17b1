"""lex-dpr stats"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lex_dpr.cli import _console as console

EXAMPLES = ["lex-dpr stats --passages out/merged_corpus.jsonl --pairs out/pairs_train.jsonl --out-dir out/stats"]


def command(
    passages: Annotated[Path, typer.Option("--passages")],
    pairs: Annotated[list[Path] | None, typer.Option("--pairs")] = None,
    tokenizer: Annotated[str | None, typer.Option("--tokenizer", help="HF tokenizer name or path for token lengths.")] = None,
    out_dir: Annotated[Path, typer.Option("--out-dir")] = Path("stats"),
) -> None:
    """Counts by type and law, length distributions, positives/negatives per query; JSON + PNG."""
    from lex_dpr.data.stats import corpus_stats
    from lex_dpr.mining.pairset import check_pair_set

    for path in [passages, *(pairs or [])]:
        check_pair_set(path)
    s = corpus_stats(passages, list(pairs or []), tokenizer, out_dir)
    console.counts("passages by type", s["by_type"])
    console.table("lengths", [(k, *(s[k].get(c, "") for c in ("n", "mean", "p50", "p95", "max")))
                              for k in ("chars", "tokens") if k in s], ("", "n", "mean", "p50", "p95", "max"))
    if "suggested_max_seq_length" in s:
        console.out.print(f"suggested max_seq_length (covers p95): {s['suggested_max_seq_length']}")
    if "pairs" in s:
        console.table("most-cited positives", s["pairs"]["most_cited"][:10], ("passage", "queries"))
    console.out.print(f"wrote {out_dir / 'stats.json'} and {len(s['plots'])} plot(s)")
