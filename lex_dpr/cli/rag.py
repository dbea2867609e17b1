"""lex-dpr rag ask | batch | tune"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lex_dpr.cli import _console as console

EXAMPLES = [
    'lex-dpr rag ask "불법행위로 인한 손해배상 책임은 언제 생기나요?" --index index/',
    'lex-dpr rag ask "근로계약 해지 절차는?" --index index/ --retrieval independent --k 6 --llm openai:http://127.0.0.1:8000/v1',
    'lex-dpr rag ask "질문" --index index/ --llm transformers:Qwen/Qwen2.5-7B-Instruct --load-in-8bit --json',
    "lex-dpr rag batch --index index/ --input questions.csv --output answers.jsonl --resume",
    "for i in 1 2; do lex-dpr rag batch --index index/ --input q.csv --output a.$i.jsonl --shard $i/2 & done; wait; lex-dpr rag merge a.1.jsonl a.2.jsonl --input q.csv --output answers.jsonl",
    "lex-dpr rag batch --index index/ --input test.csv --output submission.csv --format submission --llm openai:http://127.0.0.1:8000/v1",
    "lex-dpr rag tune --index index/ --pairs out/shared/pairs_train_valid.jsonl",
]

app = typer.Typer(help="Answer questions from an index: hybrid retrieval, a prompt per question type, an LLM or none.",
                  epilog="Examples:\n\n" + "\n\n".join(f"$ {e}" for e in EXAMPLES), no_args_is_help=True)

IndexOpt = Annotated[Path, typer.Option("--index", "-i", help="Index folder from `lex-dpr index build`.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="YAML with retrieval/generation/llm settings.")]
RetrievalOpt = Annotated[str | None, typer.Option("--retrieval", help="weighted, rrf or independent (default: the index's tuned mode, else weighted).")]
WeightOpt = Annotated[float | None, typer.Option("--weight", help="weighted: the weight on dense scores, 0-1.")]
KOpt = Annotated[int | None, typer.Option("--k", min=1, help="Contexts per question (default 6).")]
LlmOpt = Annotated[str | None, typer.Option("--llm", help="none, transformers:MODEL or openai:URL (default none).")]
LlmModelOpt = Annotated[str | None, typer.Option("--llm-model", help="openai: the served model's name (default: the server's first).")]
LlmTimeoutOpt = Annotated[float | None, typer.Option("--llm-timeout", help="openai: seconds to wait for one answer (default 60; not retried).")]
ConnectTimeoutOpt = Annotated[float | None, typer.Option("--connect-timeout", help="openai: seconds to connect, and for the model list at start (default 5).")]
Int8Opt = Annotated[bool, typer.Option("--load-in-8bit", help="transformers on CUDA: 8-bit weights (bitsandbytes).")]
Int4Opt = Annotated[bool, typer.Option("--load-in-4bit", help="transformers on CUDA: 4-bit weights (bitsandbytes).")]
TemplatesOpt = Annotated[Path | None, typer.Option("--templates", help="Folder of prompt files overriding the bundled ones.")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Any setting as key=value, e.g. generation.temperature=0.3.")]
ModelOpt = Annotated[str | None, typer.Option("--model", help="Query encoder; must be the one the index was built with (default: the manifest's).")]
DeviceOpt = Annotated[str | None, typer.Option("--device", help="cpu, cuda, cuda:1 ... (default: best available).")]


def _overrides(retrieval, weight, k, llm, llm_model, int8, int4, templates, more, llm_timeout=None,
               connect_timeout=None) -> list[str]:
    import json

    out = []
    for key, value in (("retrieval.method", retrieval), ("retrieval.weight", weight), ("retrieval.k", k),
                       ("llm", llm), ("generation.model", llm_model), ("templates", templates),
                       ("generation.timeout", llm_timeout), ("generation.connect_timeout", connect_timeout)):
        if value is not None:  # --llm and --llm-model quoted: YAML would read `openai:` or `qwen:7b` as a mapping
            out.append(f"{key}={json.dumps(value, ensure_ascii=False) if key in ('llm', 'generation.model') else value}")
    if int8:
        out.append("generation.load_in_8bit=true")
    if int4:
        out.append("generation.load_in_4bit=true")
    return out + list(more or [])


def _check_llm(llm: str | None) -> None:
    """A bad --llm fails before the index opens."""
    if llm is not None:
        from lex_dpr.llm.open import check_spec

        check_spec(llm)


@app.command("ask")
def ask(question: Annotated[str, typer.Argument(help="The question, in Korean.")], index: IndexOpt,
        retrieval: RetrievalOpt = None, weight: WeightOpt = None, k: KOpt = None, llm: LlmOpt = None,
        llm_model: LlmModelOpt = None, load_in_8bit: Int8Opt = False, load_in_4bit: Int4Opt = False,
        templates: TemplatesOpt = None, config: ConfigOpt = None, set_: SetOpt = None, model: ModelOpt = None,
        device: DeviceOpt = None, llm_timeout: LlmTimeoutOpt = None, connect_timeout: ConnectTimeoutOpt = None,
        json_out: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False) -> None:
    """Answer one question: the contexts (law, article, passage id) and, with an LLM, a cited answer."""
    from lex_dpr.errors import ConfigError
    from lex_dpr.rag.answer import open_answerer

    if not question.strip():
        raise ConfigError("the question is empty: ask it in quotes, e.g. lex-dpr rag ask \"불법행위란?\" --index index/")
    _check_llm(llm)
    answerer = open_answerer(index, config, _overrides(retrieval, weight, k, llm, llm_model, load_in_8bit,
                                                       load_in_4bit, templates, set_, llm_timeout, connect_timeout),
                             model, device)
    ans = answerer.answer([question.strip()])[0]
    if json_out:
        import orjson

        d = ans.to_dict()
        d["settings"] = {"retrieval": answerer.retriever.name, "llm": answerer.cfg.llm}
        typer.echo(orjson.dumps(d, option=orjson.OPT_INDENT_2).decode())
        if ans.error:
            raise typer.Exit(1)
        return
    _render(ans, answerer)


def _render(ans, answerer) -> None:
    from rich.markup import escape
    from rich.panel import Panel

    if "no_match" in ans.flags:
        console.problem("no passage matches this question: none of its words occurs in the index; ask in Korean "
                        "with the legal matter in it", "no match")
        return

    console.table(f"contexts ({answerer.retriever.name}; question type {ans.qtype})",
                  [(i, c.title, c.article, c.pid, f"{c.score:.4f}", "✓" if c.pid in ans.cited else "")
                   for i, c in enumerate(ans.contexts, start=1)],
                  ("#", "law", "article", "passage id", "score", "cited"))
    if answerer.generator is not None:
        title = "answer" + (f" [yellow]({', '.join(ans.flags)})[/yellow]" if ans.flags else "")
        console.out.print(Panel(escape(console.printable(ans.answer or "(empty)")), title=title, title_align="left"))
    if ans.error:
        console.problem(ans.error)
        raise typer.Exit(1)


@app.command("batch")
def batch(index: IndexOpt,
          input_path: Annotated[Path, typer.Option("--input", help="Questions: .csv (columns) or .jsonl (keys) with id and question.")],
          output: Annotated[Path, typer.Option("--output", "-o", help="Answers: .jsonl or .csv (appended as they come).")],
          resume: Annotated[bool, typer.Option("--resume", help="Keep the rows already in --output and answer the rest.")] = False,
          fmt: Annotated[str, typer.Option("--format", help="full (question, answer, contexts ...) or submission (id,answer CSV).")] = "full",
          id_column: Annotated[str, typer.Option("--id-column", help="The id column or key.")] = "id",
          question_column: Annotated[str, typer.Option("--question-column", help="The question column or key.")] = "question",
          cache: Annotated[Path | None, typer.Option("--cache", help="Answer cache folder (default INDEX/rag_cache).")] = None,
          no_cache: Annotated[bool, typer.Option("--no-cache", help="Answer everything again.")] = False,
          summary_path: Annotated[Path | None, typer.Option("--summary", help="Write the run's summary as JSON (default OUTPUT.summary.json).")] = None,
          retrieval: RetrievalOpt = None, weight: WeightOpt = None, k: KOpt = None, llm: LlmOpt = None,
          llm_model: LlmModelOpt = None, load_in_8bit: Int8Opt = False, load_in_4bit: Int4Opt = False,
          templates: TemplatesOpt = None, config: ConfigOpt = None, set_: SetOpt = None, model: ModelOpt = None,
          device: DeviceOpt = None, llm_timeout: LlmTimeoutOpt = None, connect_timeout: ConnectTimeoutOpt = None,
          shard: Annotated[str | None, typer.Option("--shard", help="I/N: answer every N-th distinct question from the I-th (with all its rows), as one of N workers (each its own --output; `rag merge` joins them).")] = None,
          workers: Annotated[int, typer.Option("--workers", min=1, help="Processes answering shards of the file at once, each opening the index, merged into --output (the same bytes as one).")] = 1,
          quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False) -> None:
    """Answer every question of a file, in batches; resumable; bad rows reported with their line and skipped."""
    from lex_dpr.errors import ConfigError
    from lex_dpr.rag.batch import Output, check_input, parse_shard
    from lex_dpr.utils.io import write_json

    Output(output, fmt)  # a bad --format, suffix or input file fails before the index and model load
    which = parse_shard(shard) if shard is not None else None
    if which is not None and workers > 1:
        raise ConfigError(f"--shard {shard} and --workers {workers}: a shard is one worker's part; use one of them")
    check_input(input_path, id_column, question_column)
    _check_llm(llm)
    overrides = _overrides(retrieval, weight, k, llm, llm_model, load_in_8bit, load_in_4bit, templates, set_,
                           llm_timeout, connect_timeout)
    cache_dir = None if no_cache else (cache or index / "rag_cache")
    if workers > 1:
        from lex_dpr.rag.workers import BatchJob, run_batch_workers

        job = BatchJob(index, input_path, output, workers, config, overrides, model, device, fmt, id_column,
                       question_column, cache_dir)
        s = run_batch_workers(job, resume=resume, show_progress=not quiet)
    else:
        from lex_dpr.rag.answer import open_answerer
        from lex_dpr.rag.batch import run_batch

        answerer = open_answerer(index, config, overrides, model, device)
        s = run_batch(answerer, input_path, output, fmt=fmt, resume=resume, id_column=id_column,
                      question_column=question_column, cache_dir=cache_dir, show_progress=not quiet, shard=which)
    write_json(summary_path or output.with_name(output.name + ".summary.json"), s.to_dict())
    rows = [("input rows", s.rows), ("bad rows (skipped)", s.bad_rows), ("already in the output", s.already_done),
            ("answered now", s.answered), ("unique questions", s.unique_questions), ("from the cache", s.cache_hits),
            ("generation errors", s.errors), *((f"flagged {f}", n) for f, n in sorted(s.flags.items())),
            ("questions/s", s.questions_per_s),
            *((f"worker {w['shard']} questions/s", w["questions_per_s"]) for w in s.workers)]
    console.table(f"rag batch → {output}", rows, ("", "count"))
    if s.errors:
        raise typer.Exit(1)


@app.command("merge")
def merge(parts: Annotated[list[Path], typer.Argument(help="The outputs of `rag batch --shard 1/N` … `N/N`, in that order.")],
          input_path: Annotated[Path, typer.Option("--input", help="The questions file the shards answered.")],
          output: Annotated[Path, typer.Option("--output", "-o", help="The merged answers (.jsonl or .csv).")],
          fmt: Annotated[str, typer.Option("--format", help="full or submission, as the shards were written.")] = "full",
          id_column: Annotated[str, typer.Option("--id-column", help="The input's id column or key.")] = "id",
          question_column: Annotated[str, typer.Option("--question-column", help="The input's question column or key.")] = "question") -> None:
    """Join the outputs of `rag batch --shard I/N` in input order: the file one worker writes."""
    from lex_dpr.rag.batch import merge_shards

    n = merge_shards(input_path, list(parts), output, fmt=fmt, id_column=id_column, question_column=question_column)
    console.out.print(f"wrote {output}: {n} answers from {len(parts)} shards, in the order of {input_path}",
                      highlight=False)


def _shown(result) -> list:
    """The candidates tune's table shows: every mode without an uncited bonus, and each bonus's best weight
    (``--json`` has them all)."""
    best_of: dict[float, object] = {}
    for c in result.candidates:
        if c.bonus and (c.bonus not in best_of or (c.recall, c.ndcg) > (best_of[c.bonus].recall, best_of[c.bonus].ndcg)):
            best_of[c.bonus] = c
    keep = {id(c) for c in best_of.values()} | {id(result.best)}
    return [c for c in result.candidates if not c.bonus or id(c) in keep]


@app.command("tune")
def tune(index: IndexOpt,
         pairs: Annotated[Path, typer.Option("--pairs", help="Validation pairs (query_text, positive_passages).")],
         train_pairs: Annotated[Path | None, typer.Option("--train-pairs", help="Training pairs, for the seen/never-seen halves (default: the file --pairs is the _valid sibling of).")] = None,
         k: KOpt = None, model: ModelOpt = None, device: DeviceOpt = None,
         dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the table; do not write the index's settings.")] = False,
         json_out: Annotated[Path | None, typer.Option("--json", help="Write every candidate's scores as JSON.")] = None,
         questions: Annotated[Path | None, typer.Option("--questions", help="Labelled plain-language questions (question, positive_passages; a test split is skipped): tune the weight of queries asked as questions and train their reranker.")] = None,
         no_rerank: Annotated[bool, typer.Option("--no-rerank", help="With --questions: tune the question weight only, train no reranker.")] = False,
         no_bonus: Annotated[bool, typer.Option("--no-bonus", help="Score no uncited bonus: statements about the passages training cited keep the order the model learnt (the bonus trades some of their precision for passages training never cited).")] = False,
         quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False) -> None:
    """Choose the retrieval mode and weight on validation pairs; store them in the index for ask and batch."""
    from lex_dpr.data.corpus import read_pairs
    from lex_dpr.evaluation.report import fingerprint
    from lex_dpr.mining.split_files import split_base, split_of
    from lex_dpr.rag.config import load_rag_config
    from lex_dpr.rag.tune import (BONUSES, MIN_RERANK_QUESTIONS, read_questions, tune_question_weight, tune_reranker,
                                  write_reranker, write_settings)
    from lex_dpr.rag.tune import tune as run_tune
    from lex_dpr.retrieval.index import open_index
    from lex_dpr.utils.io import write_json

    opened = open_index(index, model=model, device=device)
    valid = read_pairs(pairs, opened.corpus, corpus_flag="--index")
    if train_pairs is None and split_of(pairs) == "valid":
        sibling = split_base(pairs)
        train_pairs = sibling if sibling is not None and sibling.is_file() else None
    train = read_pairs(train_pairs) if train_pairs is not None else []
    asked = read_questions(questions, opened.corpus) if questions is not None else None
    result = run_tune(opened, valid, train, k=k or 6, show_progress=not quiet, bonuses=(0.0,) if no_bonus else BONUSES)
    best = result.best
    console.table(f"rag tune on {pairs} ({result.queries} queries: {result.seen_queries} seen, "
                  f"{result.unseen_queries} never-seen positives)",
                  [(c.label, f"{c.recall:.4f}", "" if c.recall_seen is None else f"{c.recall_seen:.4f}",
                    "" if c.recall_unseen is None else f"{c.recall_unseen:.4f}", f"{c.ndcg:.4f}",
                    "◀ best" if c is best else "") for c in _shown(result)],
                  ("mode", f"recall@{result.k}", "seen", "never-seen", "ndcg@10", ""))
    reranked = None
    if asked is not None:
        chosen = tune_question_weight(opened, asked, result, cfg=load_rag_config())
        console.table(f"queries asked as questions: {questions} ({len(asked)} questions)",
                      [(c.label, f"{c.recall:.4f}", f"{c.ndcg:.4f}", "◀ best" if c is chosen else "")
                       for c in result.questions], ("mode", f"recall@{result.k}", "ndcg@10", ""))
        if best.method == "weighted" and not no_rerank and len(asked) < MIN_RERANK_QUESTIONS:
            console.out.print(f"no question reranker: {len(asked)} questions to train it on, fewer than "
                              f"{MIN_RERANK_QUESTIONS}", highlight=False)
        elif best.method == "weighted" and not no_rerank:
            cfg = load_rag_config(None, [f"retrieval.weight={best.weight}",
                                         f"retrieval.question_weight={result.question_best.weight}"])
            reranked = tune_reranker(opened, asked, cfg, train, k=result.k, show_progress=not quiet)
            console.table(f"question reranker, 5-fold cross-validation on {reranked.questions} questions",
                          [("fused", f"{reranked.recall_fused:.4f}", f"{reranked.ndcg_fused:.4f}"),
                           ("reranked", f"{reranked.recall_reranked:.4f}", f"{reranked.ndcg_reranked:.4f}")],
                          ("", f"recall@{result.k}", "ndcg@10"))
    if json_out:
        write_json(json_out, {**result.to_dict(), **({"reranker": reranked.to_dict()} if reranked else {})})
    if dry_run:
        return
    path = write_settings(index, result, pairs, fingerprint(valid))
    if reranked is not None:
        console.out.print(write_reranker(index, reranked), highlight=False)
    questions_note = (f", questions w={result.question_best.weight:.1f}"
                      if result.question_best is not None and best.method == "weighted" else "")
    console.out.print(f"wrote {path}: rag ask and rag batch now use {best.label}{questions_note}", highlight=False)
