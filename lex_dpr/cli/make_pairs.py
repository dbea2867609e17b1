"""lex-dpr make-pairs"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lex_dpr.cli import _console as console
from lex_dpr.cli._options import QuietOpt, SeedOpt, StrictOpt, WorkersOpt

EXAMPLES = [
    "lex-dpr make-pairs --law out/law_passages.jsonl --prec-json-dir data/sample/precedents --out out/pairs_train.jsonl",
    "lex-dpr make-pairs --law law.jsonl --admin admin.jsonl --use-admin-for-prec --prec-json-dir precs --hn-per-q 8 --negatives random",
    "lex-dpr make-pairs --law law.jsonl --prec-json-dir precs --out out/pairs_train.jsonl --heldout-articles 0.1",
]


def command(
    law: Annotated[Path, typer.Option("--law", help="Law passages from preprocess.")],
    prec_json_dir: Annotated[Path, typer.Option("--prec-json-dir", help="Folder of precedent JSON files.")],
    out: Annotated[Path, typer.Option("--out")] = Path("data/processed/pairs_train.jsonl"),
    admin: Annotated[Path | None, typer.Option("--admin", help="Admin-rule passages.")] = None,
    use_admin_for_prec: Annotated[bool, typer.Option("--use-admin-for-prec", help="Resolve citations of admin rules too.")] = False,
    hn_per_q: Annotated[int, typer.Option("--hn-per-q", min=0)] = 32,
    max_positives_per_prec: Annotated[int, typer.Option("--max-positives-per-prec", min=1)] = 5,
    max_workers: WorkersOpt = 0,
    valid_ratio: Annotated[float, typer.Option("--valid-ratio")] = 0.1,
    test_ratio: Annotated[float, typer.Option("--test-ratio")] = 0.0,
    heldout_articles: Annotated[float, typer.Option("--heldout-articles", help="Hold out this share of the cited articles (by a stable hash of --seed and the article id): every pair citing one goes to {stem}_heldout.jsonl, pairs sharing its precedent or query are dropped, and no held-out article is a positive of train/valid/test. 0: off.")] = 0.0,
    seed: SeedOpt = 42,
    negatives: Annotated[str, typer.Option("--negatives", help="bm25, random or dense.")] = "bm25",
    model: Annotated[str | None, typer.Option("--model", help="Encoder for --negatives dense.")] = None,
    old_law: Annotated[str, typer.Option("--old-law", help="drop: old-law citations map only through a 현행 note; same-number: also to the same article number.")] = "drop",
    no_fallback: Annotated[bool, typer.Option("--no-fallback", help="No pairs for precedents citing nothing in the corpus.")] = False,
    glob: Annotated[str, typer.Option("--glob")] = "**/*.json",
    cache_dir: Annotated[Path | None, typer.Option("--cache-dir", help="Kiwi token cache (default: .lexdpr_cache beside --out); reruns and interrupted runs reuse it.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the token cache.")] = False,
    strict: StrictOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Mine (query, positive articles, hard negatives) pairs from precedents' 참조조문."""
    from lex_dpr.mining.make_pairs import MakePairsConfig, make_pairs

    cfg = MakePairsConfig(law=str(law), prec_json_dir=str(prec_json_dir), out=str(out),
                          admin=str(admin) if admin else None, use_admin_for_prec=use_admin_for_prec,
                          hn_per_q=hn_per_q, max_positives_per_prec=max_positives_per_prec, max_workers=max_workers,
                          valid_ratio=valid_ratio, test_ratio=test_ratio, heldout_articles=heldout_articles, seed=seed, negatives=negatives,  # type: ignore[arg-type]
                          model=model, old_law=old_law, fallback=not no_fallback, glob=glob,
                          cache_dir="" if no_cache else (str(cache_dir) if cache_dir else None))  # type: ignore[arg-type]
    r = make_pairs(cfg, show_progress=not quiet)
    console.table("make-pairs", [
        ("precedents read", r.precedents_read), ("with citations", r.precedents_with_citations),
        ("with a resolved citation", r.precedents_resolved), ("fallback (cite nothing here)", r.precedents_fallback),
        ("queries", r.queries), *((f"pairs: {k}", v) for k, v in r.pairs.items()),
        *_heldout_rows(r.heldout),
        ("positives per query", r.positives_per_query), ("negatives per query", r.negatives_per_query),
        ("inputs skipped (files, lines)", len(r.skipped_files))])
    console.counts("citations by outcome", dict(r.references))
    console.counts("queries dropped", dict(r.dropped_queries))
    console.counts("positives flagged", dict(r.flagged_positives))
    console.out.print(f"summary: {r.outputs.get('summary')}")
    if strict and r.skipped_files:
        console.err.print(f"[red]--strict: {len(r.skipped_files)} input(s) skipped[/red]")
        raise typer.Exit(1)


def _heldout_rows(heldout: dict) -> list[tuple[str, object]]:
    """--heldout-articles: how many articles were held out, and the distinct positive articles of each split."""
    if not heldout:
        return []
    return [("articles held out", f"{heldout['articles_held_out']} of {heldout['articles']} ({heldout['share']:.1%})"),
            *((f"articles: {k}", v) for k, v in heldout.get("articles_by_split", {}).items())]
