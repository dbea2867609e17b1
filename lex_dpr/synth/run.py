"""The ``lex-dpr synth`` job: sampled passages → balanced, filtered questions as training pairs, resumable.

Plan. Every passage offers some *slots* per question type (the offline generator: one per defined term,
heading, condition, ...; an LLM: one per passage with text). Each type's slots are shuffled with the seed;
types take turns (round robin), each taking its next slot until it has ``n / len(types)`` questions kept
or no slots left. A kept question is one that parses, is Korean and is neither an exact nor a near
duplicate of one kept before (:mod:`lex_dpr.synth.filters`). An LLM's k-th request of a type is sampled
at ``temperatures[k % len(temperatures)]``, requests of one temperature sent together.

Files. ``OUT`` gets each kept pair as it arrives; ``OUT.journal`` (an append-only journal,
:mod:`lex_dpr.utils.journal`, written first and flushed after every attempt) records every attempt (kept or
why not) under a header with the settings; ``{stem}.summary.json`` is written atomically
at the end. A killed run, restarted with the same command, rebuilds ``OUT`` from the journal and goes on
with the next slot, so an offline run gives the same bytes however often it is interrupted. Other
settings with an existing journal are refused (``force`` starts over).

Example:
    >>> import json, tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> text = '제2조(정의) 1. "평균임금"이란 이전 3개월 임금의 평균을 말한다. 2. "통상임금"이란 정기적으로 지급하는 임금을 말한다.'
    >>> _ = (d / "p.jsonl").write_text(json.dumps({"id": "LAW_1_제2조", "type": "law", "title": "근로기준법",
    ...     "article": "제2조", "heading": "정의", "text": text}, ensure_ascii=False) + "\\n", encoding="utf-8")
    >>> r = run_synth(SynthJob(passages=str(d / "p.jsonl"), out=str(d / "s.jsonl"), n=4, types=["정의", "비교", "프로세스"]),
    ...               show_progress=False)
    >>> r.written, {t: (v["written"], v["skipped_passages"]) for t, v in r.per_type.items()}
    (3, {'정의': (2, 0), '비교': (1, 0), '프로세스': (0, 1)})
    >>> json.loads((d / "s.jsonl").read_text().splitlines()[-1])["positive_passages"]
    ['LAW_1_제2조']
"""

from __future__ import annotations

import logging
import random
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from lex_dpr.errors import ConfigError, InputError
from lex_dpr.llm.base import GenerationConfig
from lex_dpr.rag.classify import QUESTION_TYPES, classify
from lex_dpr.synth.filters import QuestionFilter
from lex_dpr.synth.llm import LlmQuestions
from lex_dpr.synth.offline import OfflineGenerator
from lex_dpr.utils.hashing import sha256_file
from lex_dpr.utils.io import BadLine, ensure_writable, iter_passages, write_json, write_jsonl
from lex_dpr.utils.journal import append, open_append, read_journal
from lex_dpr.utils.locks import folder_lock
from lex_dpr.utils.progress import track

log = logging.getLogger(__name__)

JOURNAL_FORMAT = "lex-dpr synth journal"
PASSAGE_TYPES = ("law", "admin", "prec")  # what preprocess writes in each record's ``type``
LLM_BATCH = 32  # requests per round trip to the generator (the journal is written after each)


@dataclass
class SynthJob:
    """What ``lex-dpr synth`` was asked to do; every field but ``force``, ``device`` and the I/O paths
    is recorded in the journal, and a resumed run must match it."""

    passages: str
    out: str
    llm: str = "none"
    n: int = 3000
    types: list[str] = field(default_factory=lambda: list(QUESTION_TYPES))
    temperatures: list[float] = field(default_factory=lambda: [0.1, 0.3, 0.4])
    seed: int = 0
    near_duplicate: float = 0.8  # Jaccard of character n-gram sets from which a question is a near-duplicate
    ngram: int = 3
    passage_types: list[str] = field(default_factory=list)  # e.g. ["law", "admin"]; empty: every passage
    generation: GenerationConfig = field(default_factory=lambda: GenerationConfig(max_new_tokens=128))
    device: str | None = None
    force: bool = False

    def problems(self) -> list[str]:
        out = []
        bad = [t for t in self.types if t not in QUESTION_TYPES]
        if bad or not self.types:
            out.append(f"--types {','.join(self.types)!r}: use some of {','.join(QUESTION_TYPES)}")
        if len(set(self.types)) != len(self.types):
            out.append(f"--types {','.join(self.types)!r} names a type twice")
        if self.n < 1:
            out.append(f"--n {self.n}: must be >= 1")
        if not self.temperatures or any(not 0 <= t <= 2 for t in self.temperatures):
            out.append(f"--temperatures {self.temperatures}: give one or more values in [0, 2], e.g. 0.1,0.3,0.4")
        if not 0 < self.near_duplicate <= 1:
            out.append(f"--near-duplicate {self.near_duplicate}: must be in (0, 1]")
        if self.ngram < 1:
            out.append(f"--ngram {self.ngram}: must be >= 1")
        from lex_dpr.retrieval.index import check_device

        try:
            check_device(self.device)
        except ConfigError as exc:
            out.append(str(exc))
        unknown = [t for t in self.passage_types if t not in PASSAGE_TYPES]
        if unknown:
            import difflib

            hints = [f"{t!r} (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(t, PASSAGE_TYPES, 1))
                     else repr(t) for t in unknown]
            out.append(f"--passage-types {','.join(self.passage_types)!r}: {', '.join(hints)} "
                       f"{'is' if len(unknown) == 1 else 'are'} not a passage type; use some of {','.join(PASSAGE_TYPES)}")
        return out

    def settings(self, passages_sha256: str) -> dict[str, Any]:
        """What decides the output: a resumed run must have the same."""
        keep = {k: v for k, v in asdict(self).items() if k not in ("passages", "out", "force", "device", "generation")}
        keep["passages_sha256"] = passages_sha256
        if self.llm.strip().lower() != "none":
            keep["generation"] = self.generation.fingerprint()
        return keep


@dataclass
class SynthResult:
    out: Path
    summary_path: Path
    summary: dict[str, Any]
    resumed: int = 0  # attempts found in the journal when the run started

    @property
    def written(self) -> int:
        return self.summary["written"]

    @property
    def per_type(self) -> dict[str, dict[str, Any]]:
        return self.summary["per_type"]


def journal_path(out: str | Path) -> Path:
    """synthetic.jsonl → synthetic.jsonl.journal"""
    out = Path(out)
    return out.with_name(out.name + ".journal")


def summary_path(out: str | Path) -> Path:
    """synthetic.jsonl → synthetic.summary.json"""
    out = Path(out)
    return out.with_name(out.name.removesuffix(".jsonl") + ".summary.json")


def run_synth(job: SynthJob, show_progress: bool = True) -> SynthResult:
    """Run (or resume) the job and write the summary; see the module docstring.

    Raises:
        ConfigError: bad flags (every problem at once) or an unknown ``--llm``.
        InputError: unreadable passages, an unwritable output, or a journal from other settings.
    """
    problems = job.problems()
    if problems:
        raise ConfigError("; ".join(problems))
    out = Path(job.out)
    ensure_writable(out)
    with folder_lock(out.parent, f".{out.name}.lock", "synth run"):
        return _run_holding_lock(job, out, show_progress)


def _run_holding_lock(job: SynthJob, out: Path, show_progress: bool) -> SynthResult:
    """The job itself, while this process holds the output's lock."""
    passages = _read_passages(job)
    settings = job.settings(sha256_file(job.passages))
    entries = _open_journal(out, settings, job.force)
    source = _open_source(job, passages)
    plan = _Plan(job, source, passages, entries)
    with open_append(journal_path(out)) as journal, open_append(out) as pairs:
        events = plan.run(source, journal, pairs)
        for _ in track(events, "synth", total=plan.remaining(), enabled=show_progress):
            pass
    summary = plan.summary(source.name)
    if summary["written"] == 0:
        _remove_outputs(out)
        raise InputError(_nothing_kept(summary))
    write_json(summary_path(out), summary)
    return SynthResult(out, summary_path(out), summary, plan.resumed)


def _nothing_kept(summary: dict[str, Any]) -> str:
    attempted = sum(v["attempted"] for v in summary["per_type"].values())
    reasons = ", ".join(f"{v} {k}" for k, v in summary["rejected"].items() if v) or "no passage gives these types"
    fix = ("check that the model answers with one question per prompt" if summary["generator"] != "offline"
           else "choose other --types or --passage-types")
    return f"no question kept ({attempted} attempts: {reasons}); {fix}; nothing was written"


def _remove_outputs(out: Path) -> None:
    """A run that kept nothing leaves no empty output, journal or summary behind to be mistaken for a result."""
    for path in (out, journal_path(out), summary_path(out)):
        path.unlink(missing_ok=True)


def _read_passages(job: SynthJob) -> dict[str, dict]:
    bad: list[BadLine] = []
    keep = set(job.passage_types)
    from lex_dpr.data.corpus import check_encoding

    check_encoding(job.passages)
    seen: set[str] = set()
    passages = {}
    for rec in iter_passages(job.passages, bad):
        seen.add(str(rec.get("type")))
        if not keep or rec.get("type") in keep:
            passages[rec["id"]] = rec
    for b in bad:
        log.warning("skipped %s", b)
    absent = [t for t in job.passage_types if t not in seen]
    if passages and absent:
        log.warning("--passage-types %s: %s has no passage of type %s", ",".join(job.passage_types), job.passages,
                    ",".join(absent))
    if not passages:
        kinds = f" of type {','.join(job.passage_types)}" if keep else ""
        raise InputError(f"{job.passages}: no passages{kinds} with id and text (check --passages and --passage-types)")
    return passages


def _open_source(job: SynthJob, passages: dict[str, dict]):
    if job.llm.strip().lower() == "none":
        return OfflineGenerator(passages)
    from lex_dpr.llm.open import open_generator

    generator = open_generator(job.llm, job.generation, device=job.device)
    assert generator is not None  # only "none" gives None
    return LlmQuestions(generator, passages, job.llm.strip())


def _open_journal(out: Path, settings: dict[str, Any], force: bool) -> list[dict]:
    """The journal's attempts (a fresh journal when there is none); ``OUT`` rebuilt from it."""
    path = journal_path(out)
    header = None
    entries: list[dict] = []
    if path.is_file() and not force:
        # a line cut by a kill is dropped (attempted again) and cut away when the journal is opened to append
        records, _ = read_journal(path, check=lambda obj: None if isinstance(obj, dict) else "not a JSON object",
                                  fix=f"not a synth journal line; delete {path} and {out} or pass --force to start over")
        if records:
            header, entries = records[0].value, [r.value for r in records[1:]]
        if header is not None:
            if header.get("format") != JOURNAL_FORMAT:
                raise InputError(f"{path}: not a synth journal; pass --force to start over")
            old = header.get("settings") or {}
            changes = [f"{k}: {old.get(k)!r} → {settings.get(k)!r}" for k in sorted(set(old) | set(settings))
                       if old.get(k) != settings.get(k)]
            if changes:
                raise InputError(f"{out} was started with other settings ({'; '.join(changes)}); run the same "
                                 "command to resume it, or pass --force to start over")
    elif out.exists() and not force:
        raise InputError(f"{out} exists and is not an unfinished synth run (no {path.name}); pass --force to "
                         "replace it or choose another --out")
    if header is None:
        write_jsonl(path, [{"format": JOURNAL_FORMAT, "settings": settings}])
        entries = []
    write_jsonl(out, (e["pair"] for e in entries if e.get("pair")))
    return entries


class _Plan:
    """Which slot each type asks next, what has been kept, and the counts the summary reports."""

    def __init__(self, job: SynthJob, source, passages: dict[str, dict], entries: list[dict]) -> None:
        self.job = job
        self.types = list(job.types)
        q, r = divmod(job.n, len(self.types))
        self.quota = {t: q + (i < r) for i, t in enumerate(self.types)}
        self.candidates: dict[str, list[tuple[str, int]]] = {}
        self.skipped: dict[str, int] = {}
        for t in self.types:
            slots = [(pid, s) for pid in passages for s in range(source.slots(pid, t))]
            random.Random(f"{job.seed}:{t}").shuffle(slots)
            self.candidates[t] = slots
            self.skipped[t] = sum(1 for pid in passages if not source.slots(pid, t))
        self.filter = QuestionFilter(job.near_duplicate, job.ngram)
        self.entries: list[dict] = []
        self.next_k = dict.fromkeys(self.types, 0)
        self.kept = Counter[str]()
        self.per_pid = Counter[str]()
        self.cursor = 0
        self.resumed = len(entries)
        for e in entries:
            self._record(e)
            if e["status"] == "ok":
                self.filter.keep(e["pair"]["query_text"])
        if entries:
            self.cursor = (self.types.index(entries[-1]["t"]) + 1) % len(self.types)

    def _record(self, e: dict) -> None:
        self.entries.append(e)
        self.next_k[e["t"]] = max(self.next_k[e["t"]], e["k"] + 1)
        if e["status"] == "ok":
            self.kept[e["t"]] += 1
            self.per_pid[e["pid"]] += 1

    def remaining(self) -> int:
        return sum(max(0, self.quota[t] - self.kept[t]) for t in self.types)

    def _next_batch(self, size: int) -> list[tuple[str, int]]:
        """Up to ``size`` (type, k) in round-robin order, no type asked more than it still needs."""
        batch: list[tuple[str, int]] = []
        asked = Counter[str]()
        while len(batch) < size:
            moved = False
            for _ in range(len(self.types)):
                t = self.types[self.cursor]
                self.cursor = (self.cursor + 1) % len(self.types)
                k = self.next_k[t] + asked[t]
                if self.kept[t] + asked[t] < self.quota[t] and k < len(self.candidates[t]):
                    batch.append((t, k))
                    asked[t] += 1
                    moved = True
                    break
            if not moved:
                break
        return batch

    def run(self, source, journal: IO[bytes], pairs: IO[bytes]) -> Iterator[None]:
        """Ask, filter, journal and write until every type has its quota or its slots run out;
        yields once per kept question."""
        offline = isinstance(source, OfflineGenerator)
        while batch := self._next_batch(1 if offline else LLM_BATCH):
            answers = self._ask(source, batch, offline)
            for (t, k), (question, positives, temperature, error) in zip(batch, answers, strict=True):
                pid, slot = self.candidates[t][k]
                status = "error" if error else self.filter.check(question)
                entry: dict[str, Any] = {"t": t, "k": k, "pid": pid, "slot": slot, "status": status,
                                         "query": question, "temperature": temperature}
                if error:
                    entry["error"] = error
                if status == "ok":
                    entry["pair"] = {"query_id": f"SYN_{pid}_{self.per_pid[pid] + 1}", "query_text": question,
                                     "positive_passages": list(positives), "hard_negatives": [],
                                     "meta": {"type": "synth", "qtype": t, "generator": source.name,
                                              "temperature": temperature}}
                append(journal, [entry])  # the journal first: a kill before the pair line is repaired from it
                if status == "ok":
                    append(pairs, [entry["pair"]])
                self._record(entry)
                if status == "ok":
                    yield None

    def _ask(self, source, batch: list[tuple[str, int]], offline: bool) -> list[tuple]:
        if offline:
            out = []
            for t, k in batch:
                pid, slot = self.candidates[t][k]
                q = source.question(pid, t, slot, self.job.seed)
                out.append((q.text if q else None, q.positives if q else (pid,), None, None))
            return out
        temps = self.job.temperatures
        by_temp: dict[float, list[int]] = defaultdict(list)
        for i, (_, k) in enumerate(batch):
            by_temp[temps[k % len(temps)]].append(i)
        answers: list[tuple] = [()] * len(batch)
        config = replace(self.job.generation, seed=self.job.seed)
        for temperature, idx in by_temp.items():
            tasks = [(self.candidates[batch[i][0]][batch[i][1]][0], batch[i][0]) for i in idx]
            replies = source.ask(tasks, config, temperature)
            for i, (pid, _), (question, error) in zip(idx, tasks, replies, strict=True):
                answers[i] = (question, (pid,), temperature, error)
        return answers

    def summary(self, generator: str) -> dict[str, Any]:
        status = Counter(e["status"] for e in self.entries)
        attempted = len(self.entries)
        per_type: dict[str, dict[str, Any]] = {}
        for t in self.types:
            mine = [e for e in self.entries if e["t"] == t]
            kept = [e["query"] for e in mine if e["status"] == "ok"]
            per_type[t] = {"target": self.quota[t], "written": len(kept), "attempted": len(mine),
                           "slots": len(self.candidates[t]), "skipped_passages": self.skipped[t],
                           "classified_as_type": round(sum(classify(q) == t for q in kept) / len(kept), 4) if kept else None}
        per_temperature: dict[str, dict[str, int]] = {}
        for e in self.entries:
            if e.get("temperature") is not None:
                row = per_temperature.setdefault(str(e["temperature"]), {"attempted": 0, "written": 0})
                row["attempted"] += 1
                row["written"] += e["status"] == "ok"
        written = status["ok"]
        return {
            "generator": generator,
            "passages": self.job.passages,
            "out": self.job.out,
            "requested": self.job.n,
            "written": written,
            "attempted": attempted,
            "success_rate": round(written / attempted, 4) if attempted else 0.0,
            "duplicate_rate": round((status["duplicate"] + status["near_duplicate"]) / attempted, 4) if attempted else 0.0,
            "rejected": {s: status[s] for s in ("unparsed", "not_korean", "duplicate", "near_duplicate", "error")},
            "short_types": [t for t in self.types if per_type[t]["written"] < self.quota[t]],
            "per_type": per_type,
            "per_temperature": per_temperature,
            "settings": {"seed": self.job.seed, "types": self.types, "temperatures": self.job.temperatures,
                         "near_duplicate": self.job.near_duplicate, "ngram": self.job.ngram,
                         "passage_types": self.job.passage_types},
        }
