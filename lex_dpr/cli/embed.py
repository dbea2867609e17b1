"""lex-dpr embed"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lex_dpr.cli import _console as console
from lex_dpr.cli._options import QuietOpt

EXAMPLES = [
    "lex-dpr embed --model out/shared/run_best --input out/shared/merged_corpus.jsonl --outdir embeds --prefix passages --type passage",
    "lex-dpr embed --model out/shared/run_best --input out/shared/pairs_train_valid.jsonl --outdir embeds --prefix queries --type query --output-format both",
    "lex-dpr embed -m kure-v1 -i corpus.jsonl -o embeds -p passages --kind passage --device cuda --batch-size 128",
]


def command(
    model: Annotated[str, typer.Option("--model", "-m", help="Run folder (out/shared/run_best), model folder, alias or hub id.")],
    input_path: Annotated[Path, typer.Option("--input", "-i", help="JSONL to embed: passages (merged_corpus.jsonl) or queries (a pair file, or id/text rows).")],
    outdir: Annotated[Path, typer.Option("--outdir", "-o", help="Output folder.")],
    prefix: Annotated[str, typer.Option("--prefix", "-p", help="File name start: PREFIX.npz, or PREFIX_ids.npy + PREFIX_embeds.npy.")],
    kind: Annotated[str, typer.Option("--type", "--kind", "-t", help="passage (document prompt) or query (query prompt).")] = "passage",
    output_format: Annotated[str, typer.Option("--output-format", help="npz, npy or both.")] = "npz",
    id_field: Annotated[str | None, typer.Option("--id-field", help="The id field (default id; query_id for a pair file with --type query).")] = None,
    text_field: Annotated[str | None, typer.Option("--text-field", help="The text field (default text; query_text for a pair file with --type query).")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", "-b", min=1, help="Texts per forward pass.")] = 64,
    shard_size: Annotated[int, typer.Option("--shard-size", min=1, help="Texts per resumable shard (a killed run resumes from the last finished shard).")] = 4096,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Embed the first N usable rows only.")] = None,
    no_normalize: Annotated[bool, typer.Option("--no-normalize", help="Keep raw vectors (search uses L2-normalised ones).")] = False,
    device: Annotated[str | None, typer.Option("--device", help="cpu, cuda, ... (default: best available).")] = None,
    trust_remote_code: Annotated[bool, typer.Option("--trust-remote-code", help="Let a hub model run its own code.")] = False,
    template: Annotated[str | None, typer.Option("--template", hidden=True, help="Predecessor flag; prompts come from the model.")] = None,
    max_len: Annotated[int, typer.Option("--max-len", hidden=True, help="Predecessor flag; the model's own length is used.")] = 0,
    peft_adapter: Annotated[str | None, typer.Option("--peft-adapter", hidden=True, help="Predecessor flag; pass the adapter folder as --model.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Embed a JSONL's texts with a model; writes the vectors with their ids (.npz and/or .npy), resumable."""
    from lex_dpr.errors import ConfigError
    from lex_dpr.retrieval.embed import check_embed_options

    if peft_adapter:
        raise ConfigError(f"--peft-adapter {peft_adapter!r}: pass the adapter folder (or its run folder) as --model; "
                          "lex-dpr finds the base model from the adapter")
    for flag, value in (("--template", template), ("--max-len", max_len or None)):
        if value is not None:
            console.problem(f"{flag} {value!r} is ignored: the prompts and maximum length come from the model "
                            "(its lexdpr_model.json or models.yaml entry)", "warning")
    check_embed_options(input_path, prefix, kind, output_format, batch_size, shard_size, limit, model)  # before torch
    from lex_dpr.retrieval.embed import embed_jsonl

    s = embed_jsonl(input_path, outdir, prefix, model, kind=kind, output_format=output_format, batch_size=batch_size,
                    shard_size=shard_size, id_field=id_field, text_field=text_field, limit=limit,
                    normalize=not no_normalize, device=device, trust_remote_code=trust_remote_code,
                    show_progress=not quiet)
    if json_out:
        import orjson

        typer.echo(orjson.dumps(s, option=orjson.OPT_INDENT_2).decode())
        return
    rows = [("rows", s["rows"]), ("dimension", s["dim"]), ("kind", s["kind"]), ("skipped lines", s["skipped_lines"]),
            ("encoded now", s["encoded"]), ("shards reused (resumed)", f"{s['reused_shards']} of {s['shards']}"),
            *((role, path) for role, path in s["paths"].items()), ("seconds", s["seconds"])]
    console.table(f"embed: {input_path} → {outdir}", rows, ("", "value"))
