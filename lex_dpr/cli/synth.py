"""lex-dpr synth"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lex_dpr.cli import _console as console
from lex_dpr.cli._options import PassagesOpt, QuietOpt, SeedOpt

EXAMPLES = [
    "lex-dpr synth --passages out/merged_corpus.jsonl --llm none --n 3000 --out out/synthetic.jsonl",
    "lex-dpr synth --passages out/merged_corpus.jsonl --llm openai:http://127.0.0.1:8000/v1 --types 정의,적용 --temperatures 0.1,0.3,0.4 --out synthetic.jsonl",
    "lex-dpr synth --passages out/law_passages.jsonl --llm transformers:Qwen/Qwen2.5-1.5B-Instruct --n 600 --out synthetic.jsonl  # run it again to resume",
    "lex-dpr train --config train data.pairs=out/pairs_train.jsonl data.passages=out/merged_corpus.jsonl data.extra_pairs=out/synthetic.jsonl",
]


def command(
    passages: PassagesOpt,
    out: Annotated[Path, typer.Option("--out", help="Synthetic pairs (JSONL, the pair schema); a journal and a summary go beside it.")],
    llm: Annotated[str, typer.Option("--llm", help="none (templates over the statute's structure, no model), transformers:MODEL or openai:URL.")] = "none",
    n: Annotated[int, typer.Option("--n", min=1, help="Questions to keep, split evenly across --types.")] = 3000,
    types: Annotated[str, typer.Option("--types", help="Question types, comma-separated.")] = "정의,프로세스,규정,예시,비교,적용",
    temperatures: Annotated[str, typer.Option("--temperatures", help="LLM sampling temperatures, rotated over the requests of each type.")] = "0.1,0.3,0.4",
    passage_types: Annotated[str, typer.Option("--passage-types", help="Only passages of these types (e.g. law,admin); empty: all.")] = "",
    near_duplicate: Annotated[float, typer.Option("--near-duplicate", help="Character 3-gram Jaccard from which a question is a near-duplicate of one kept.")] = 0.8,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", min=1, help="LLM reply length limit.")] = 128,
    model_name: Annotated[str | None, typer.Option("--llm-model", "--model-name", help="openai: the served model (default: the server's first).")] = None,
    device: Annotated[str | None, typer.Option("--device", help="transformers: cpu, cuda, ... (default: best available).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Start over, replacing --out and its journal.")] = False,
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Generate plain-language questions for sampled passages, as training pairs (the passage is the positive).

    Kept questions parse, are Korean and are not (near-)duplicates; the run is resumable (run it again).
    """
    from lex_dpr.errors import ConfigError
    from lex_dpr.llm.base import GenerationConfig
    from lex_dpr.synth.run import SynthJob, run_synth

    try:
        temps = [float(t) for t in _split(temperatures)]
    except ValueError:
        raise ConfigError(f"--temperatures {temperatures!r}: give numbers separated by commas, e.g. 0.1,0.3,0.4") from None
    job = SynthJob(passages=str(passages), out=str(out), llm=llm, n=n, types=_split(types), temperatures=temps,
                   seed=seed, near_duplicate=near_duplicate, passage_types=_split(passage_types),
                   generation=GenerationConfig(max_new_tokens=max_new_tokens, model=model_name), device=device,
                   force=force)
    r = run_synth(job, show_progress=not quiet)
    s = r.summary
    if r.resumed:
        console.err.print(f"resumed: {r.resumed} earlier attempts read from the journal", highlight=False, markup=False)
    rows = [(t, v["target"], v["written"], v["attempted"], v["skipped_passages"],
             "-" if v["classified_as_type"] is None else f"{v['classified_as_type']:.2f}") for t, v in s["per_type"].items()]
    console.table(f"synth ({s['generator']}): {s['written']}/{s['requested']} questions", rows,
                  ("type", "target", "written", "attempted", "skipped passages", "classified as type"))
    console.table("filter", [("success rate", f"{s['success_rate']:.4f}"), ("duplicate rate", f"{s['duplicate_rate']:.4f}"),
                             *((f"dropped: {k}", v) for k, v in s["rejected"].items())], ("", "value"))
    if s["per_temperature"]:
        console.table("temperatures", [(t, v["attempted"], v["written"]) for t, v in s["per_temperature"].items()],
                      ("temperature", "attempted", "written"))
    console.out.print(f"pairs: {r.out}\nsummary: {r.summary_path}", highlight=False, markup=False)
    if s["short_types"]:
        why = ("not enough passages give that type" if not s["rejected"].get("unparsed")
               else f"{s['rejected']['unparsed']} replies did not parse as a question")
        console.problem(f"{', '.join(s['short_types'])}: fewer questions than the target ({why}); see the table",
                        "warning")


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]
