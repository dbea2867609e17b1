"""lex-dpr visualize"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lex_dpr.cli import _console as console

EXAMPLES = [
    "lex-dpr visualize --model out/shared/run_best --output viz/     # all four; corpus and pairs from the run's record",
    "lex-dpr visualize --model out/shared/run_best --passages out/shared/merged_corpus.jsonl --eval-pairs out/shared/pairs_train_valid.jsonl --type similarity --type heatmap --output viz/",
    "lex-dpr visualize --model out/shared/run_best --model-before out/shared/run --type comparison --output viz/",
    "lex-dpr visualize --model out/shared/run_best --type space --method umap --max-points 300 --output viz/",
]


def command(
    model: Annotated[str, typer.Option("--model", "-m", help="Run folder (out/shared/run_best), model folder, alias or hub id.")],
    passages: Annotated[Path | None, typer.Option("--passages", "-p", help="Corpus JSONL (default: the run's own, from its record).")] = None,
    pairs: Annotated[Path | None, typer.Option("--eval-pairs", "--pairs", "-e", help="Pair JSONL (default: the run's valid pairs, from its record).")] = None,
    output: Annotated[Path, typer.Option("--output", "--out", "-o", help="Folder for the PNGs and their JSONs.")] = Path("visualizations"),
    kinds: Annotated[list[str] | None, typer.Option("--type", "--kind", "-t", help="all, space, similarity, heatmap, comparison (repeatable or comma-separated; default all).")] = None,
    model_before: Annotated[str | None, typer.Option("--model-before", help="The 'before' model for comparison (default: the run's untrained start).")] = None,
    method: Annotated[str, typer.Option("--method", help="tsne (default; fastest in a fresh process) or umap for the space map.")] = "tsne",
    n_samples: Annotated[int, typer.Option("--n-samples", help="Queries sampled (seeded) for every figure.")] = 300,
    max_points: Annotated[int, typer.Option("--max-points", help="Points in the space map (a third queries).")] = 450,
    heatmap_queries: Annotated[int, typer.Option("--heatmap-queries", help="Rows of the heatmap.")] = 15,
    seed: Annotated[int, typer.Option("--seed", help="Sampling and projection seed; same inputs and seed, same numbers.")] = 42,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Texts per forward pass.")] = 64,
    device: Annotated[str | None, typer.Option("--device", help="cpu, cuda, ... (default: best available).")] = None,
    peft_adapter: Annotated[str | None, typer.Option("--peft-adapter", hidden=True, help="Predecessor flag; pass the adapter folder as --model.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print every figure's numbers as JSON.")] = False,
) -> None:
    """Pictures of a model's embeddings: 2-D space, positive vs negative similarity, heatmap, before vs after."""
    from lex_dpr.errors import ConfigError
    from lex_dpr.visualize.run import check_visualize_options

    if peft_adapter:
        raise ConfigError(f"--peft-adapter {peft_adapter!r}: pass the adapter folder (or its run folder) as --model")
    chosen = check_visualize_options(kinds, method, n_samples, max_points, heatmap_queries,
                                     {"--model": model, "--model-before": model_before})  # before torch
    from lex_dpr.visualize.run import visualize

    result = visualize(model, output, passages=passages, pairs=pairs, kinds=chosen, model_before=model_before,
                       method=method, n_samples=n_samples, max_points=max_points, heatmap_queries=heatmap_queries,
                       seed=seed, batch_size=batch_size, device=device)
    if json_out:
        import orjson

        typer.echo(orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY).decode())
        return
    rows = []
    if "space" in result:
        s = result["space"]
        rows.append(("space", f"{s['projection']['method']} {s['projection']['seconds']} s, trustworthiness "
                              f"{s['projection']['trustworthiness']:.3f}", Path(s["png"]).name))
    if "similarity" in result:
        s = result["similarity"]
        rows.append(("similarity", f"positive {s['positive']['mean']:.3f} vs hard {s['hard_negative']['mean']:.3f}, "
                                   f"AUC {s['auc_vs_hard']:.3f}", Path(s["png"]).name))
    if "heatmap" in result:
        s = result["heatmap"]
        rows.append(("heatmap", f"row best = positive {s['row_best_is_positive']:.0%}", Path(s["png"]).name))
    if "comparison" in result:
        s = result["comparison"]
        rows.append(("comparison", f"AUC vs hard {s['before']['auc_vs_hard']:.3f} → {s['after']['auc_vs_hard']:.3f} "
                                   f"({s['before_model']} → {s['after_model']})", Path(s["png"]).name))
    sample = result["sample"]
    console.table(f"visualize → {output}/: {sample['queries']} queries of {sample['pairs']} ({result['seconds']} s)", rows,
                  ("figure", "numbers", "file"))
