"""lex-dpr train"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lex_dpr.cli import _console as console

_DATA = "data.pairs=out/sample/pairs_train.jsonl data.passages=out/sample/merged_corpus.jsonl"
EXAMPLES = [
    f"lex-dpr train --config configs/train.yaml {_DATA} out_dir=runs/static",
    f"lex-dpr train --config configs/train.yaml {_DATA} trainer.lr=0.05 --check",
    f"lex-dpr train --config configs/train_lora.yaml {_DATA} model.name=kure-v1 trainer.lr=2e-5 lora.r=16",
    f"lex-dpr train --config configs/train.yaml {_DATA} --folds 5 --out-dir runs/kfold",
    f"lex-dpr train --config configs/train.yaml {_DATA} --out-dir runs/static --resume",
    "lex-dpr train data.pairs=p.jsonl data.passages=c.jsonl ~trainer.lr  # ~key: back to the default",
]


def command(
    overrides: Annotated[list[str] | None, typer.Argument(help="Dotted overrides: trainer.lr=2e-5 lora.r=16 ~eval.k_values ...")] = None,
    config: Annotated[str | None, typer.Option("--config", "-c", help="YAML config: a path, or a bundled one (train, train_lora).")] = None,
    folds: Annotated[int, typer.Option("--folds", min=0, help="Group k-fold over the training pairs (0: off).")] = 0,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the newest complete checkpoint.")] = False,
    allow_changes: Annotated[bool, typer.Option("--allow-changes", help="With --resume: accept settings or input files that differ from the run's record.")] = False,
    out_dir: Annotated[Path | None, typer.Option("--out-dir", help="Run folder (same as out_dir=...).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    check: Annotated[bool, typer.Option("--check", help="Check the config and the input files, then exit without training.")] = False,
) -> None:
    """Fine-tune a bi-encoder on mined pairs (static model by default; LoRA or full for transformers).

    Overrides are section.key=value (the value is read as YAML) or ~section.key (back to the default).
    Every problem in the config and the overrides is reported at once, before any model is loaded.
    """
    from lex_dpr.training.config import load_config, resolve_data_paths

    items = list(overrides or []) + ([f"out_dir={out_dir}"] if out_dir else [])
    cfg = load_config(config, items)
    for note in resolve_data_paths(cfg):
        console.err.print(note, highlight=False, markup=False)
    if check:
        import shlex

        from lex_dpr.utils.config import to_overrides

        console.out.print(f"ok: {config or 'defaults'} + {len(items)} override(s); the same run as one command:",
                          highlight=False, markup=False)
        console.out.print(shlex.join(["lex-dpr", "train", *to_overrides(cfg)]), highlight=False, markup=False,
                          soft_wrap=True)
        return
    _train(cfg, folds, resume, quiet, allow_changes)


def _train(cfg, folds: int, resume: bool, quiet: bool, allow_changes: bool) -> None:
    if folds:
        from lex_dpr.training.kfold import train_kfold

        k = train_kfold(cfg, folds, resume=resume, show_progress=not quiet, allow_changes=allow_changes)
        rows = [(f"fold-{i}", *(f"{m.get(key, 0):.4f}" for key in _KEYS)) for i, m in enumerate(k.folds)]
        rows.append(("mean ± std", *(f"{k.mean[key]:.4f} ± {k.std[key]:.4f}" for key in _KEYS)))
        rows.append(("out-of-fold", *(f"{k.out_of_fold[key]:.4f}" for key in _KEYS)))
        console.table(f"k-fold ({folds})", rows, ("", *_KEYS))
        console.out.print(f"ensemble: {k.ensemble_dir}")
        return
    from lex_dpr.training.train import train

    r = train(cfg, resume=resume, show_progress=not quiet, allow_changes=allow_changes)
    from lex_dpr.training.distributed import world

    if world()[0] != 0:
        return  # under torchrun, rank 0 reports
    metrics = [(k.removeprefix("eval/"), f"{v:.4f}") for k, v in r.metrics.items()
               if k.removeprefix("eval/") in _KEYS]
    console.table("train", [("steps", r.steps), ("examples", r.examples), ("examples/s", r.examples_per_s),
                            ("wall time (s)", r.wall_time_s), *metrics,
                            ("score spread (std)", f"{r.score_std:.4f}"),
                            ("passage cosine (mean)", f"{r.mean_pairwise_cos:.3f}")], ("", "value"))
    if r.collapsed:
        console.err.print("[yellow]warning: the final embeddings look collapsed; see the log above[/yellow]")
    console.out.print(f"model: {r.final_dir}")


_KEYS = ("ndcg_at_10", "recall_at_1", "recall_at_10", "mrr_at_10", "map_at_100")
