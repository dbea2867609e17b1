"""``lex-dpr make-pairs``: precedents → (query, cited article passages, hard negatives) pairs.

Read top to bottom: load the corpus, read precedents, build queries and positives from
their 참조조문, add fallback pairs, mine negatives, hold out articles (``--heldout-articles``), split, write.

The outputs are one set (:mod:`lex_dpr.mining.pairset`): committed together with a manifest that
readers check, under a lock on the output folder that a second run at the same time fails on.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

from lex_dpr.data.sources.detect import SourceKind, detect_kind
from lex_dpr.data.sources.precedents import Precedent, read_precedent, summary_passages
from lex_dpr.errors import ConfigError, InputError
from lex_dpr.mining.negatives import bm25_negatives, dense_negatives, random_negatives
from lex_dpr.mining.pairset import PairSetWriter, clean_leftovers, manifest_path, output_lock
from lex_dpr.mining.queries import Query, precedent_queries
from lex_dpr.utils.text import normalize_query
from lex_dpr.mining.refs import Reference, parse_references
from lex_dpr.mining.resolve import LawCatalog, Resolution
from lex_dpr.mining.split import article_heldout_split, grouped_split
from lex_dpr.mining.split_files import SPLITS, set_stem, split_sibling
from lex_dpr.retrieval.bm25 import BM25Index, search_head
from lex_dpr.data.tokenize import tokenize_many
from lex_dpr.utils.io import BadLine, ensure_writable, iter_passages, read_json_file
from lex_dpr.utils.progress import track

log = logging.getLogger(__name__)

Negatives = Literal["bm25", "random", "dense"]


@dataclass
class MakePairsConfig:
    """Every knob of make-pairs; the CLI flags map 1:1 onto these fields."""

    law: str
    prec_json_dir: str
    out: str = "data/processed/pairs_train.jsonl"
    admin: str | None = None
    use_admin_for_prec: bool = False
    hn_per_q: int = 32
    max_positives_per_prec: int = 5
    max_workers: int = 0
    valid_ratio: float = 0.1
    test_ratio: float = 0.0
    heldout_articles: float = 0.0  # share of positive articles whose pairs go to the _heldout split; 0: none
    seed: int = 42
    negatives: Negatives = "bm25"
    model: str | None = None
    old_law: Literal["drop", "same-number"] = "drop"
    fallback: bool = True
    min_query_chars: int = 10
    glob: str = "**/*.json"
    cache_dir: str | None = None  # Kiwi token cache; None: .lexdpr_cache beside --out; "" turns it off

    def check(self) -> None:
        problems = []
        if self.negatives not in ("bm25", "random", "dense"):
            problems.append(f"--negatives {self.negatives!r}: choose bm25, random or dense")
        if self.negatives == "dense" and not self.model:
            problems.append("--negatives dense needs --model NAME_OR_PATH")
        if not 0 <= self.valid_ratio < 1 or not 0 <= self.test_ratio < 1 or self.valid_ratio + self.test_ratio >= 1:
            problems.append(f"--valid-ratio {self.valid_ratio} / --test-ratio {self.test_ratio}: each in [0, 1), sum < 1")
        if not 0 <= self.heldout_articles < 1:
            problems.append(f"--heldout-articles {self.heldout_articles}: a fraction in [0, 1)")
        if self.hn_per_q < 0 or self.max_positives_per_prec < 1:
            problems.append("--hn-per-q must be >= 0 and --max-positives-per-prec >= 1")
        if self.old_law not in ("drop", "same-number"):
            problems.append(f"--old-law {self.old_law!r}: choose drop or same-number")
        inputs = {Path(p).resolve(): flag for flag, p in (("--law", self.law), ("--admin", self.admin)) if p}
        clobbered = [f"{inputs[p.resolve()]} {p}" for p in split_paths(self.out).values() if p.resolve() in inputs]
        if clobbered:
            problems.append(f"--out {self.out} would overwrite {', '.join(clobbered)}; choose another --out")
        if problems:
            raise ConfigError("; ".join(problems))


@dataclass
class MakePairsReport:
    """The run summary: printed as a table and written next to the output as JSON."""

    precedents_read: int = 0
    precedents_with_citations: int = 0
    precedents_resolved: int = 0
    precedents_fallback: int = 0
    queries: int = 0
    pairs: dict[str, int] = field(default_factory=dict)
    positives_total: int = 0
    positives_per_query: float = 0.0
    negatives_per_query: float = 0.0
    references: Counter = field(default_factory=Counter)
    dropped_queries: Counter = field(default_factory=Counter)
    flagged_positives: Counter = field(default_factory=Counter)
    skipped_files: list[str] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    heldout: dict = field(default_factory=dict)  # --heldout-articles: articles and pairs held out (empty when off)

    def to_dict(self) -> dict:
        d = asdict(self)
        if not self.heldout:
            del d["heldout"]  # a run without --heldout-articles writes the summary it always wrote
        for k in ("references", "dropped_queries", "flagged_positives"):
            d[k] = dict(sorted(getattr(self, k).items(), key=lambda kv: -kv[1]))
        return d


def split_paths(out: str | Path) -> dict[str, Path]:
    """pairs_train.jsonl → its _valid/_test/_heldout siblings (:mod:`~lex_dpr.mining.split_files`), fallback
    passages, summary and manifest."""
    out = Path(out)
    return {"train": out, **{split: split_sibling(out, split) for split in SPLITS},
            "fallback": out.with_name("prec_fallback_passages.jsonl"),
            "summary": out.with_name(f"{set_stem(out)}_summary.json"), "manifest": manifest_path(out)}


def load_passages(path: str | Path, bad: list[BadLine]) -> list[dict]:
    """Passages with an id and text; every other line is logged and recorded in ``bad``."""
    skipped = len(bad)
    passages = list(iter_passages(path, bad))
    for line in bad[skipped:]:
        log.warning("skipped %s", line)
    if not passages:
        raise InputError(f"{path}: no passages (run `lex-dpr preprocess` first)")
    return passages


def read_precedents(directory: str | Path, pattern: str, report: MakePairsReport,
                    show_progress: bool) -> list[Precedent]:
    src = Path(directory)
    if not src.is_dir():
        raise InputError(f"{src}: not a directory (pass --prec-json-dir with the precedent JSON files)")
    files = sorted(p for p in src.glob(pattern) if p.is_file())
    if not files:
        raise InputError(f"{src}: no files match {pattern!r} (pass --prec-json-dir with the precedent JSON files)")
    precs = []
    for path in track(files, "read precedents", enabled=show_progress):
        try:
            doc = read_json_file(path)
            if detect_kind(doc) is not SourceKind.PREC:
                raise InputError(f"{path}: not a precedent")
            # the 판결본문 is not read here (queries come from 판시사항/판결요지): a collection's bodies, often tens
            # of KB each, would otherwise all be held until the pairs are written
            precs.append(replace(read_precedent(doc), body=""))
        except (InputError, KeyError, TypeError, AttributeError) as exc:
            msg = str(exc) if isinstance(exc, InputError) else f"{path}: missing or malformed field {exc}"
            report.skipped_files.append(msg)
            log.warning(msg)
    if not precs:
        raise InputError(f"{src}: none of the {len(files)} file(s) is a readable precedent "
                         f"({report.skipped_files[0] if report.skipped_files else 'no precedent'})")
    report.precedents_read = len(precs)
    return precs


def _refs_for(query: Query, refs: list[tuple[Reference, Resolution]], numbered: bool) -> list[tuple[Reference, Resolution]]:
    """The references of the query's own [n] group when both sides are numbered, else all of them."""
    if not numbered or not query.labels:
        return refs
    own = [(r, res) for r, res in refs if not r.groups or set(r.groups) & set(query.labels)]
    return own


def _article_key(p: dict) -> str:
    return p["parent_id"] if p.get("paragraph") else p["id"]


def make_pairs(cfg: MakePairsConfig, show_progress: bool = False) -> MakePairsReport:
    """Mine training pairs from precedents and write train/valid(/test)(/heldout) JSONL files.

    With ``heldout_articles`` R > 0, a share R of the law/admin articles among the positives is held out
    (chosen per article by a stable hash of seed and article id, see :func:`~lex_dpr.mining.split.is_heldout_article`):
    every pair with one of them among its positives goes to ``{stem}_heldout.jsonl``, pairs sharing a
    precedent or query with those are dropped, and train/valid/test are split from the rest, so no held-out
    article is a positive of a train/valid/test pair. A held-out pair keeps only its held-out articles as
    positives (the others, which training sees, move to ``meta.trained_positives``), so Recall@k on the
    held-out file is recall of articles no training pair cited. Hard negatives may still be held-out articles.

    Example:
        >>> cfg = MakePairsConfig(law="out/law.jsonl", prec_json_dir="data/sample/precedents",
        ...                       out="out/pairs_train.jsonl")  # doctest: +SKIP
        >>> make_pairs(cfg).pairs["train"] > 0  # doctest: +SKIP
        True
    """
    cfg.check()
    folder = ensure_writable(cfg.out)
    with output_lock(folder):
        clean_leftovers(folder, [p.name for p in split_paths(cfg.out).values()])
        return _make_pairs(cfg, show_progress)


def _make_pairs(cfg: MakePairsConfig, show_progress: bool) -> MakePairsReport:
    report = MakePairsReport()
    bad: list[BadLine] = []
    corpus = load_passages(cfg.law, bad)
    if cfg.admin and cfg.use_admin_for_prec:
        corpus += load_passages(cfg.admin, bad)
    report.skipped_files += [str(b) for b in bad]
    by_id = {p["id"]: p for p in corpus}
    catalog = LawCatalog.from_passages(corpus, include_admin=cfg.use_admin_for_prec)
    precedents = read_precedents(cfg.prec_json_dir, cfg.glob, report, show_progress)

    pairs: list[dict] = []
    excluded: list[set[str]] = []
    fallback_passages: list[dict] = []
    for prec in track(precedents, "resolve citations", enabled=show_progress):
        refs = parse_references(prec.references)
        if refs:
            report.precedents_with_citations += 1
        resolved = [(r, catalog.resolve(r, prec.decided, cfg.old_law)) for r in refs]
        report.references.update(res.reason for _, res in resolved)
        cited = {pid for _, res in resolved for pid in res.passage_ids}
        queries = precedent_queries(prec, cfg.min_query_chars)
        if not cited:
            if cfg.fallback:
                _fallback_pairs(prec, queries, refs, pairs, excluded, fallback_passages, report)
            continue
        report.precedents_resolved += 1
        skip = cited | {_article_key(by_id[c]) for c in cited} | {f"PREC_{prec.id}"}
        numbered = any(r.groups for r in refs) and any(q.labels for q in queries)
        for q in queries:
            own = _refs_for(q, resolved, numbered)
            positives: list[str] = []
            for _, res in own:
                positives.extend(p for p in res.passage_ids if p not in positives)
            if not positives:
                report.dropped_queries["no resolved citation in its [n] group"] += 1
                continue
            positives = positives[: cfg.max_positives_per_prec]
            for _, res in own:
                if res.flagged and set(res.passage_ids) & set(positives):
                    report.flagged_positives[res.flagged] += 1
            kind = "admin" if any(by_id[p]["type"] == "admin" for p in positives) else "prec"
            pairs.append(_pair(q, prec, positives, kind, [f"{r.law} {r.article}".strip() for r, _ in own]))
            excluded.append(skip | {_article_key(by_id[p]) for p in positives})
    report.queries = len(pairs)

    pool = corpus + fallback_passages
    _mine_negatives(cfg, pairs, excluded, pool, show_progress)
    heldout: list[dict] = []
    held: set[str] = set()
    if cfg.heldout_articles > 0:
        pairs, heldout, held = _hold_out_articles(cfg, report, pairs, by_id)
    train, valid, test = grouped_split(pairs, cfg.valid_ratio, cfg.test_ratio, cfg.seed)
    if cfg.heldout_articles > 0:
        splits = {"train": train, "valid": valid, **({"test": test} if cfg.test_ratio > 0 else {}), "heldout": heldout}
        _count_split_articles(report, splits, held, by_id)
    _write(cfg, report, train, valid, test, heldout, fallback_passages)
    return report


def _positive_articles(pair: dict, by_id: dict[str, dict]) -> set[str]:
    """The law/admin article ids among a pair's positives (none for a fallback pair: precedents, not articles)."""
    if pair["meta"]["type"] == "fallback":
        return set()
    return {_article_key(by_id[pid]) for pid in pair["positive_passages"]}


def _hold_out_articles(cfg: MakePairsConfig, report: MakePairsReport, pairs: list[dict],
                       by_id: dict[str, dict]) -> tuple[list[dict], list[dict], set[str]]:
    """(pairs left for train/valid/test, held-out pairs, held-out articles); the counts go to ``report.heldout``."""
    articles = [_positive_articles(p, by_id) for p in pairs]
    split = article_heldout_split(pairs, articles, cfg.heldout_articles, cfg.seed)
    mixed = sum(bool(arts & split.held) and not arts <= split.held for arts in articles)
    if split.dropped:
        report.dropped_queries["shares a precedent or query with a held-out pair"] += len(split.dropped)
    if not split.heldout:
        log.warning("--heldout-articles %s: no article held out of %d; the heldout split is empty",
                    cfg.heldout_articles, len(split.articles))
    report.heldout = {"ratio": cfg.heldout_articles, "articles": len(split.articles),
                      "articles_held_out": len(split.held),
                      "share": round(len(split.held) / len(split.articles), 4) if split.articles else 0.0,
                      "pairs_held_out": len(split.heldout), "pairs_held_out_with_a_kept_article": mixed,
                      "pairs_dropped": len(split.dropped)}
    return split.kept, [_only_held(p, split.held, by_id) for p in split.heldout], split.held


def _only_held(pair: dict, held: set[str], by_id: dict[str, dict]) -> dict:
    """A held-out pair scored on its held-out articles only; its other positives (trained on) go to its meta."""
    trained = [pid for pid in pair["positive_passages"] if _article_key(by_id[pid]) not in held]
    if not trained:
        return pair
    return {**pair, "positive_passages": [pid for pid in pair["positive_passages"] if pid not in trained],
            "meta": {**pair["meta"], "trained_positives": trained}}


def _count_split_articles(report: MakePairsReport, splits: dict[str, list[dict]], held: set[str],
                          by_id: dict[str, dict]) -> None:
    """Distinct positive articles per split, and a last check that no held-out article is in another split.

    The heldout split's count includes kept articles cited beside a held-out one in the same pair.
    """
    per_split = {name: set().union(*(_positive_articles(p, by_id) for p in rows)) for name, rows in splits.items()}
    for name, articles in per_split.items():
        if name != "heldout" and articles & held:  # cannot happen by construction: a guard for later edits
            raise AssertionError(f"held-out articles among {name} positives: {sorted(articles & held)[:5]}")
    report.heldout["articles_by_split"] = {k: len(v) for k, v in per_split.items()}


def _pair(q: Query, prec: Precedent, positives: list[str], kind: str, cited: list[str]) -> dict:
    return {"query_id": q.id, "query_text": q.text, "positive_passages": positives, "hard_negatives": [],
            "meta": {"type": kind, "prec_id": prec.id, "case_number": prec.case_number, "court": prec.court,
                     "decided": prec.decided, "query_source": q.source, "labels": list(q.labels), "cited": cited}}


def _fallback_pairs(prec: Precedent, queries: list[Query], refs: list[Reference], pairs: list[dict],
                    excluded: list[set[str]], fallback_passages: list[dict], report: MakePairsReport) -> None:
    """A precedent citing nothing in the corpus: its 판시사항 items → its own 판결요지 items."""
    summary = {tuple(p.meta["labels"]): p for p in summary_passages(prec)}
    if not summary or not queries or all(q.source == "판결요지" for q in queries):
        return  # the positive would be the query's own text
    used: set[str] = set()
    for q in queries:
        positives = [p for labels, p in summary.items()
                     if (set(labels) & set(q.labels)) or (not labels and not q.labels)]
        positives = [p for p in positives if normalize_query(p.text) != normalize_query(q.text)]
        if not positives:
            continue
        fallback_passages.extend(p.to_dict() for p in positives if p.id not in used)
        used.update(p.id for p in positives)
        pairs.append(_pair(q, prec, [p.id for p in positives], "fallback", [f"{r.law} {r.article}" for r in refs]))
        excluded.append({f"PREC_{prec.id}"} | {p.id for p in summary.values()})
    report.precedents_fallback += bool(used)


def _mine_negatives(cfg: MakePairsConfig, pairs: list[dict], excluded: list[set[str]], pool: list[dict],
                    show_progress: bool) -> None:
    if cfg.hn_per_q == 0 or not pairs:
        return
    pool_ids = [p["id"] for p in pool]
    pool_keys = [(p["id"], _article_key(p), p["parent_id"]) for p in pool]
    if cfg.negatives == "random":
        negs = random_negatives(pool_ids, pool_keys, excluded, cfg.hn_per_q, cfg.seed)
    elif cfg.negatives == "dense":
        by_id = {p["id"]: p["text"] for p in pool}
        negs = dense_negatives(cfg.model, [p["query_text"] for p in pairs],
                               [by_id[p["positive_passages"][0]] for p in pairs], pool_ids,
                               [p["text"] for p in pool], excluded, cfg.hn_per_q)
    else:
        texts = [p["text"] for p in pool] + [p["query_text"] for p in pairs]
        cache = _token_cache(cfg)
        tokens = tokenize_many(texts, workers=cfg.max_workers, cache=cache, show_progress=show_progress)
        if cache is not None:  # the lines `index build` puts before each text (law name, chapter, section): it
            # borrows this cache, and then needs Kiwi for nothing (a few thousand short lines, 0.8 s here)
            tokenize_many(sorted({h for p in pool if (h := search_head(p))}), workers=cfg.max_workers, cache=cache)
        index = BM25Index(tokens[: len(pool)])
        negs = bm25_negatives(index, tokens[len(pool):], pool_ids, pool_keys, excluded, cfg.hn_per_q,
                              workers=cfg.max_workers or os.cpu_count() or 1, scratch=Path(cfg.out).parent,
                              show_progress=show_progress)
    for pair, neg in zip(pairs, negs, strict=True):
        pair["hard_negatives"] = neg


def _token_cache(cfg: MakePairsConfig):
    from lex_dpr.retrieval.token_cache import CACHE_DIR, TokenCache

    if cfg.cache_dir == "":
        return None
    return TokenCache(cfg.cache_dir or Path(cfg.out).parent / CACHE_DIR)


def _settings(cfg: MakePairsConfig) -> dict:
    """The config as written to the summary and manifest; without --heldout-articles, exactly as before it existed."""
    d = asdict(cfg)
    if not cfg.heldout_articles:
        del d["heldout_articles"]
    return d


def _write(cfg: MakePairsConfig, report: MakePairsReport, train: list[dict], valid: list[dict], test: list[dict],
           heldout: list[dict], fallback_passages: list[dict]) -> None:
    """Every output into a temporary folder, then renamed into place as one set (see lex_dpr.mining.pairset)."""
    paths = split_paths(cfg.out)
    splits = {"train": train, "valid": valid}
    if cfg.test_ratio > 0:
        splits["test"] = test
    if cfg.heldout_articles > 0:
        splits["heldout"] = heldout
    all_pairs = train + valid + test + heldout
    report.positives_total = sum(len(p["positive_passages"]) for p in all_pairs)
    if all_pairs:
        report.positives_per_query = round(report.positives_total / len(all_pairs), 3)
        report.negatives_per_query = round(sum(len(p["hard_negatives"]) for p in all_pairs) / len(all_pairs), 3)
    with PairSetWriter(cfg.out, settings=_settings(cfg)) as out:
        for name, rows in splits.items():
            report.pairs[name] = out.write_jsonl(paths[name].name, rows)
            report.outputs[name] = str(paths[name])
        unique = {p["id"]: p for p in fallback_passages}
        out.write_jsonl(paths["fallback"].name, unique.values())
        report.outputs["fallback_passages"] = str(paths["fallback"])
        report.outputs["summary"] = str(paths["summary"])
        report.outputs["manifest"] = str(paths["manifest"])
        out.write_json(paths["summary"].name, {"config": _settings(cfg), **report.to_dict()})
