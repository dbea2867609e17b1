"""The `lex-dpr eval` job as a library call: build the systems, score them, write the reports."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from lex_dpr.errors import ConfigError
from lex_dpr.evaluation.report import Report, check_cutoffs, evaluate, to_markdown
from lex_dpr.data.corpus import read_corpus, read_pairs
from lex_dpr.mining.pairset import check_pair_set
from lex_dpr.models.run_folder import run_label
from lex_dpr.utils.io import write_json

BASELINES = ("bm25", "popularity", "knn-label")


@dataclass
class EvalJob:
    passages: str
    pairs: str
    train_pairs: str | None = None  # for popularity, kNN-label, fusion tuning and the never-seen subset
    models: list[str] = field(default_factory=list)
    baselines: list[str] = field(default_factory=lambda: list(BASELINES))
    fusion: bool = True  # BM25 + each model, weight tuned on a sample of the training pairs
    tune_pairs: str | None = None  # pairs the models never saw, for the fusion weight
    fusion_tune_queries: int = 500
    k_values: list[int] = field(default_factory=lambda: [1, 3, 5, 10, 20, 100])
    seed: int = 42
    device: str | None = None
    extra: list = field(default_factory=list)  # more systems, already built (`eval --index`: what rag retrieves)
    split: str | None = None  # labelled questions: dev, test or hard (the test split's hard part)


SPLITS = ("dev", "test", "hard")


def select_split(pairs: list[dict], split: str | None, path: str) -> list[dict]:
    """The rows of one split of a labelled question file (``hard``: the test split's rows marked hard)."""
    if split is None:
        return pairs
    if split not in SPLITS:
        raise ConfigError(f"--split {split!r} is not one of {', '.join(SPLITS)}")
    if split == "hard":
        keep = [p for p in pairs if p.get("split") == "test" and p.get("hard")]
    else:
        keep = [p for p in pairs if p.get("split") == split]
    if not keep:
        raise ConfigError(f"--split {split}: no row of {path} is in it (rows carry \"split\": \"dev\" or \"test\")")
    return keep


def run_eval(job: EvalJob, show_progress: bool = False) -> Report:
    from lex_dpr.evaluation import systems as S
    from lex_dpr.retrieval.bm25 import BM25Retriever
    from lex_dpr.retrieval.dense import DenseRetriever
    from lex_dpr.retrieval.fusion import FusionRetriever

    unknown = set(job.baselines) - set(BASELINES)
    if unknown:
        raise ConfigError(f"unknown baseline(s) {sorted(unknown)}; choose from {', '.join(BASELINES)}")
    check_cutoffs(job.k_values)
    for pairs_file in (job.pairs, job.train_pairs, job.tune_pairs):
        if pairs_file:
            check_pair_set(pairs_file)  # never score a train split of one make-pairs run against another's valid
    corpus = read_corpus(job.passages)
    pairs = select_split(read_pairs(job.pairs, corpus), job.split, job.pairs)
    train_pairs = read_pairs(job.train_pairs, corpus) if job.train_pairs else []
    needs_train = {"popularity", "knn-label"} & set(job.baselines)
    if needs_train and not train_pairs:
        raise ConfigError(f"baseline(s) {sorted(needs_train)} need --train-pairs")
    systems: list = []
    bm25 = BM25Retriever(corpus) if "bm25" in job.baselines or (job.fusion and job.models) else None
    if "bm25" in job.baselines:
        systems.append(bm25)
    if "popularity" in job.baselines:
        systems.append(S.PopularitySystem(train_pairs))
    if "knn-label" in job.baselines:
        systems.append(S.KnnLabelSystem(train_pairs))
    tune_pool = read_pairs(job.tune_pairs, corpus) if job.tune_pairs else train_pairs
    for name in job.models:
        from lex_dpr.models.loading import load_encoder

        dense = DenseRetriever(run_label(name), load_encoder(name, device=job.device), corpus, show_progress=show_progress)
        systems.append(dense)
        if job.fusion and tune_pool:
            tune = random.Random(job.seed).sample(tune_pool, min(job.fusion_tune_queries, len(tune_pool)))
            seen = {pid for p in train_pairs for pid in p["positive_passages"]}
            systems.append(FusionRetriever(dense, bm25, S.choose_fusion_weight(dense, bm25, tune, seen)))
    for system in job.extra:
        check_same_passages(system, corpus)
        systems.append(system)
    if not systems:
        raise ConfigError("nothing to evaluate: pass --model, --index and/or --baseline")
    return evaluate(systems, pairs, corpus, train_pairs, job.k_values, show_progress=show_progress)


def check_outputs(job: EvalJob, output: str | Path | None, markdown: str | Path | None) -> None:
    """Before any work: the report paths are writable and overwrite no input.

    Raises:
        ConfigError: a report path names an input file.
        InputError: a report path cannot be written (one line naming it).
    """
    from lex_dpr.mining.pairset import member_of
    from lex_dpr.utils.io import ensure_writable

    inputs = {Path(p).resolve(): p for p in (job.passages, job.pairs, job.train_pairs, job.tune_pairs) if p}
    for flag, path, example in (("--output", output, "report.json"), ("--markdown", markdown, "report.md")):
        if not path:
            continue
        if Path(path).resolve() in inputs:
            raise ConfigError(f"{flag} {path} is an input of this evaluation; write the report elsewhere")
        if (manifest := member_of(path)) is not None:
            raise ConfigError(f"{flag} {path} is a make-pairs output (listed in {manifest.name}); "
                              "write the report elsewhere")
        ensure_writable(path, flag=flag, example=example)
    if output and markdown and Path(output).resolve() == Path(markdown).resolve():
        raise ConfigError(f"--output and --markdown both name {output}; give each its own file")


def write_reports(report: Report, output: str | Path | None, markdown: str | Path | None) -> None:
    if output:
        write_json(output, report.to_dict())
    if markdown:
        from lex_dpr.utils.io import atomic_open

        with atomic_open(markdown) as fh:
            fh.write(to_markdown(report).encode())


class Named:
    """A retriever under another name in the report, with the passages it ranks from."""

    def __init__(self, name: str, retriever, corpus=None) -> None:
        self.name, self.retriever, self.corpus = name, retriever, corpus

    def rank(self, queries, k):
        return self.retriever.rank(queries, k)


def check_same_passages(system, corpus) -> None:
    """A system that ranks its own passages (an index) must hold the evaluation's corpus."""
    own = getattr(system, "corpus", None)
    if own is None:
        return
    missing = [pid for pid in own.ids if pid not in corpus.index]
    if missing or len(own) != len(corpus):
        raise ConfigError(f"{system.name} holds other passages than --passages ({len(own)} against {len(corpus)}, "
                          f"e.g. {missing[:1] or 'a different count'}); give the corpus it was built from")
