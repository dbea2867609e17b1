"""lex-dpr config check | show"""

from __future__ import annotations

from typing import Annotated

import typer

from lex_dpr.cli import _console as console

EXAMPLES = [
    "lex-dpr config check configs/train.yaml",
    "lex-dpr config check configs/train_lora.yaml trainer.lr=2e-5 lora.r=16",
    "lex-dpr config show train_lora model.name=kure-v1",
]

app = typer.Typer(help="Check a config file and its overrides, or print the resolved config.",
                  no_args_is_help=True, epilog="Examples:\n\n" + "\n\n".join(f"$ {e}" for e in EXAMPLES))

ConfigArg = Annotated[str, typer.Argument(help="YAML config: a path, or a bundled one (train, train_lora).")]
OverridesArg = Annotated[list[str] | None, typer.Argument(help="Dotted overrides: trainer.lr=2e-5 ~lora.r ...")]


@app.command("check", epilog="Examples:\n\n$ " + "\n\n$ ".join(EXAMPLES[:2]))
def check(config: ConfigArg, overrides: OverridesArg = None) -> None:
    """Check every key, type, choice and range; exit 2 listing every problem, 0 when the config is good.

    Input files are not required here (a config may be checked before the data exists); `lex-dpr train
    --check` checks them too.
    """
    from lex_dpr.training.config import load_config

    load_config(config, list(overrides or []))
    console.out.print(f"ok: {config}" + (f" + {len(overrides)} override(s)" if overrides else ""), highlight=False)


@app.command("show", epilog="Examples:\n\n$ " + EXAMPLES[2])
def show(config: Annotated[str | None, typer.Argument(help="YAML config (path or bundled name); none: defaults.")] = None,
         overrides: OverridesArg = None) -> None:
    """Print the resolved config as YAML (every key, defaults filled in), after checking it."""
    import yaml

    from lex_dpr.training.config import load_config

    cfg = load_config(config, list(overrides or []))
    console.out.print(yaml.safe_dump(cfg.to_dict(), sort_keys=False, allow_unicode=True).rstrip(), highlight=False,
                      soft_wrap=True, markup=False)
