"""lex-dpr eval"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lex_dpr.cli import _console as console

EXAMPLES = [
    "lex-dpr eval --passages out/merged_corpus.jsonl --pairs out/pairs_train_valid.jsonl --train-pairs out/pairs_train.jsonl --model runs/static --output report.json --markdown report.md",
    "lex-dpr eval --passages corpus.jsonl --pairs valid.jsonl --baseline bm25 --k 1 5 10",
    "lex-dpr eval --passages out/shared/merged_corpus.jsonl --pairs data/questions/questions.jsonl --split test --index out/shared/index_default --baseline bm25 --k 6 10",
]


# `--k 1 3 5 10` (as in the docs of other IR tools): the extra integers arrive as leftover arguments.
CONTEXT_SETTINGS = {"allow_extra_args": True}


def command(
    ctx: typer.Context,
    passages: Annotated[Path, typer.Option("--passages", help="Corpus JSONL (merged_corpus.jsonl).")],
    pairs: Annotated[Path, typer.Option("--pairs", help="Evaluation pairs (the valid or test split).")],
    train_pairs: Annotated[Path | None, typer.Option("--train-pairs", help="Training pairs: popularity, kNN-label, fusion weight, never-seen subset.")] = None,
    model: Annotated[list[str] | None, typer.Option("--model", help="Run folder, model folder, alias or hub id (repeatable).")] = None,
    baseline: Annotated[list[str] | None, typer.Option("--baseline", help="bm25, popularity, knn-label (repeatable; default: all that apply).")] = None,
    k: Annotated[list[int] | None, typer.Option("--k", help="Cut-offs: --k 1 3 5 10 (default 1 3 5 10 20 100).")] = None,
    tune_pairs: Annotated[Path | None, typer.Option("--tune-pairs", help="Pairs the model never trained on, to choose the fusion weight (default: a sample of --train-pairs).")] = None,
    no_fusion: Annotated[bool, typer.Option("--no-fusion", help="Skip the BM25+model fusion systems.")] = False,
    output: Annotated[Path | None, typer.Option("--output", help="JSON report.")] = None,
    markdown: Annotated[Path | None, typer.Option("--markdown", help="Markdown report.")] = None,
    compare: Annotated[Path | None, typer.Option("--compare", help="An earlier JSON report on the same query set.")] = None,
    device: Annotated[str | None, typer.Option("--device", help="cpu, cuda, ... (default: best available).")] = None,
    index: Annotated[list[Path] | None, typer.Option("--index", help="An index folder, scored as `rag ask|batch` retrieve from it: tuned weights, lexicon, reranker (repeatable).")] = None,
    split: Annotated[str | None, typer.Option("--split", help="Labelled questions (data/questions): score the dev, test or hard split only.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Score models and baselines on one fingerprinted query set, with breakdowns."""
    from lex_dpr.evaluation.report import HEADLINE, SHORT
    from lex_dpr.evaluation.report import compare as compare_reports
    from lex_dpr.evaluation.report import check_cutoffs
    from lex_dpr.evaluation.run import EvalJob, check_outputs, run_eval, write_reports
    from lex_dpr.utils.io import read_json_file

    k = list(k or []) + _extra_cutoffs(ctx.args)
    if k:
        check_cutoffs(k)  # before anything is read
    if baseline is None:
        baseline = ["bm25"] + (["popularity", "knn-label"] if train_pairs else [])
    job = EvalJob(passages=str(passages), pairs=str(pairs), train_pairs=str(train_pairs) if train_pairs else None,
                  models=list(model or []), tune_pairs=str(tune_pairs) if tune_pairs else None, baselines=list(baseline), fusion=not no_fusion,
                  k_values=sorted(set(k or [1, 3, 5, 10, 20, 100])), device=device,
                  extra=[_as_rag_retrieves(x, device) for x in index or []], split=split)
    check_outputs(job, output, markdown)  # a read-only folder fails now, not after the models are encoded
    old = read_json_file(compare) if compare else None
    report = run_eval(job, show_progress=not quiet)
    deltas = compare_reports(old, report) if old else {}
    write_reports(report, output, markdown)
    rows = [(name, *(f"{e['overall'][m]:.4f}" + (f" ({deltas[name][m]:+.4f})" if name in deltas else "")
                     for m in HEADLINE)) for name, e in report.systems.items()]
    console.table(f"eval: {report.queries} queries, set {report.fingerprint}", rows, ("system", *SHORT))
    for subset, size in report.subset_sizes.items():
        rows = [(name, *(f"{e['subsets'][subset][m]:.4f}" for m in HEADLINE))
                for name, e in report.systems.items() if subset in e["subsets"]]
        if rows:
            console.table(f"{subset} ({size} queries)", rows, ("system", *SHORT))


def _extra_cutoffs(args: list[str]) -> list[int]:
    from lex_dpr.errors import ConfigError

    bad = [a for a in args if not a.lstrip("-").isdigit()]
    if bad:
        raise ConfigError(f"unexpected argument(s) {' '.join(bad)}; cut-offs after --k must be integers >= 1")
    return [int(a) for a in args]


def _as_rag_retrieves(folder: Path, device: str | None):
    """An index's retriever with its tuned settings, lexicon, question types and reranker: what `rag` ranks."""
    from lex_dpr.evaluation.run import Named
    from lex_dpr.models.run_folder import run_label
    from lex_dpr.rag.answer import open_answerer

    answerer = open_answerer(folder, device=device)
    return Named(f"{run_label(str(folder))} (rag)", answerer.retriever, answerer.index.corpus)
