"""``lex-dpr preprocess``: a folder of Open API JSON files → passage JSONL files, one per kind asked for."""

from __future__ import annotations

import logging
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from lex_dpr.data.sources.admin_rules import parse_admin_rule
from lex_dpr.data.sources.detect import SourceKind, detect_kind
from lex_dpr.data.sources.laws import ParseResult, Unit, parse_law
from lex_dpr.data.sources.precedents import parse_precedent
from lex_dpr.errors import ConfigError, InputError
from lex_dpr.utils.io import ensure_writable, read_json_file, write_json, write_jsonl
from lex_dpr.utils.progress import track

log = logging.getLogger(__name__)

_PARSERS = {SourceKind.LAW: parse_law, SourceKind.ADMIN: parse_admin_rule, SourceKind.PREC: parse_precedent}


@dataclass
class FileSkip:
    """A whole input file that produced nothing, and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class PreprocessReport:
    """Counts for the summary table and the JSON report."""

    files: Counter = field(default_factory=Counter)
    passages: Counter = field(default_factory=Counter)
    dropped_units: Counter = field(default_factory=Counter)
    skipped: list[FileSkip] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    not_requested: Counter = field(default_factory=Counter)
    report: str = ""

    def not_requested_lines(self) -> list[str]:
        """One line per kind found but not written, e.g. ``12 precedent files skipped: no --out-prec``."""
        return [f"{n} {_NAMES[SourceKind(k)]} file{'s' if n != 1 else ''} skipped: no {_FLAGS[SourceKind(k)]}"
                for k, n in sorted(self.not_requested.items())]

    @property
    def skip_reasons(self) -> Counter:
        return Counter(s.reason.split(" (")[0] for s in self.skipped)

    def to_dict(self) -> dict:
        return {"files": dict(self.files), "passages": dict(self.passages),
                "dropped_units": dict(self.dropped_units), "skipped_files": [str(s) for s in self.skipped],
                "skip_reasons": dict(self.skip_reasons), "warnings": self.warnings, "outputs": self.outputs,
                "not_requested": dict(self.not_requested)}


_FLAGS = {SourceKind.LAW: "--out-law", SourceKind.ADMIN: "--out-admin", SourceKind.PREC: "--out-prec"}
_NAMES = {SourceKind.LAW: "law", SourceKind.ADMIN: "admin rule", SourceKind.PREC: "precedent"}


def _parse_file(args: tuple[str, Unit, str, frozenset]) -> tuple[str, SourceKind | None, ParseResult | None, str]:
    """Worker: parse one file; returns (path, kind, result, error). Never raises for bad input.

    A file of a kind not in ``wanted`` is detected but not parsed: (path, kind, None, "").
    """
    path, unit, as_of, wanted = args
    try:
        doc = read_json_file(path)
    except InputError as exc:
        return path, None, None, str(exc).removeprefix(f"{path}: ")
    kind = detect_kind(doc)
    if kind is None:
        keys = ", ".join(list(doc)[:5]) if isinstance(doc, dict) else type(doc).__name__
        return path, None, None, f"unknown layout (top-level: {keys})"
    if kind not in wanted:
        return path, kind, None, ""
    try:
        return path, kind, _PARSERS[kind](doc, path, unit, as_of), ""
    except KeyError as exc:
        return path, kind, None, f"missing field {exc.args[0]!s}"
    except (TypeError, AttributeError, ValueError) as exc:
        return path, kind, None, f"malformed {kind.value} document ({exc})"


def find_files(src_dir: str | Path, pattern: str = "**/*.json") -> list[Path]:
    """The input files, sorted so output order never depends on the file system."""
    src = Path(src_dir)
    if not src.is_dir():
        raise InputError(f"{src}: not a directory (pass --src-dir with the folder of Open API JSON files)")
    return sorted(p for p in src.glob(pattern) if p.is_file())


def report_path(outputs: dict[SourceKind, Path]) -> Path:
    """Where the JSON report goes by default: ``<stem>_report.json`` beside the first output (law, admin, prec)."""
    first = next(iter(outputs.values()))
    return first.with_name(f"{first.stem}_report.json")


def _check_outputs(outputs: dict[SourceKind, Path], report: Path) -> None:
    """Refuse two outputs naming one file, or an output folder that cannot be written, before any parsing."""
    named = {_FLAGS[k]: p for k, p in outputs.items()}
    resolved = [p.resolve() for p in named.values()]
    same = [flag for flag, path in named.items() if resolved.count(path.resolve()) > 1]
    if same:
        raise ConfigError(f"{' and '.join(same)} name the same file; give each kind its own output")
    for flag, path in named.items():
        if path.resolve() == report.resolve():
            raise ConfigError(f"--report {report} is also {flag}; give the report its own file")
    named["--report"] = report
    for flag, path in named.items():  # before parsing anything: a read-only folder fails in a second
        ensure_writable(path, flag=flag)


def _refuse_emptying(outputs: dict[SourceKind, Path], report: PreprocessReport, by_kind: dict, src_dir: str | Path,
                     pattern: str) -> None:
    """An output that would become empty while it holds data now is an error (nothing is written)."""
    for kind, out in outputs.items():
        if by_kind[kind] or not out.is_file() or out.stat().st_size == 0:
            continue
        found = report.files[kind.value]
        why = (f"no {_NAMES[kind]} file found under {src_dir} (--glob {pattern!r})" if not found else
               f"the {found} {_NAMES[kind]} file(s) under {src_dir} gave no passages")
        raise InputError(f"{out} is not empty and this run has nothing to write there ({why}); give only the "
                         f"--out-* flags you want written (not {_FLAGS[kind]}), or --allow-empty to empty it")


def preprocess(
    src_dir: str | Path,
    out_law: str | Path | None = None,
    out_admin: str | Path | None = None,
    out_prec: str | Path | None = None,
    pattern: str = "**/*.json",
    unit: Unit = "article",
    as_of: str | None = None,
    workers: int = 1,
    show_progress: bool = False,
    *,
    report: str | Path | None = None,
    allow_empty: bool = False,
) -> PreprocessReport:
    """Parse the JSON files under ``src_dir`` and write one passage JSONL per kind asked for.

    Only the outputs given are written; files of a kind with no output are counted in
    ``PreprocessReport.not_requested`` and not parsed. The JSON report goes to ``report``
    (default: ``<stem>_report.json`` beside the first output). An output that holds data is
    never replaced by an empty file unless ``allow_empty``: that is an :class:`InputError`
    and nothing is written. Files are parsed in parallel with ``workers`` processes; output
    order is the sorted file order, so reruns give byte-identical files. A bad file is logged
    with its reason and skipped; a passage id seen twice is an error naming both files.

    Example:
        >>> report = preprocess("data/sample", out_law="out/law.jsonl")  # doctest: +SKIP
        >>> report.passages["law"] > 0, report.not_requested["prec"] > 0  # doctest: +SKIP
        (True, True)
    """
    as_of = as_of or date.today().strftime("%Y%m%d")
    given = ((SourceKind.LAW, out_law), (SourceKind.ADMIN, out_admin), (SourceKind.PREC, out_prec))
    outputs = {kind: Path(path) for kind, path in given if path is not None}
    if not outputs:
        raise ConfigError("no output: give at least one of --out-law, --out-admin, --out-prec")
    report_file = Path(report) if report is not None else report_path(outputs)
    _check_outputs(outputs, report_file)
    files = find_files(src_dir, pattern)
    if not files:
        raise InputError(f"{src_dir}: no files match {pattern!r}")
    summary = PreprocessReport()
    by_kind: dict[SourceKind, list[dict]] = {k: [] for k in outputs}
    owner: dict[str, str] = {}
    wanted = frozenset(outputs)
    jobs = [(str(p), unit, as_of, wanted) for p in files]
    with _executor(workers) as pool:
        results = pool.map(_parse_file, jobs, chunksize=64) if pool else map(_parse_file, jobs)
        for path, kind, result, error in track(results, "preprocess", total=len(jobs), enabled=show_progress):
            if error:
                summary.skipped.append(FileSkip(path, error))
                log.warning("%s: %s", path, error)
                continue
            if result is None:  # a kind nobody asked for
                summary.not_requested[kind.value] += 1
                continue
            summary.files[kind.value] += 1
            summary.dropped_units.update(result.dropped)
            summary.warnings.extend(result.warnings)
            for passage in result.passages:
                if passage.id in owner:
                    msg = f"duplicate passage id {passage.id!r} in {path} (first seen in {owner[passage.id]})"
                    summary.skipped.append(FileSkip(path, msg))
                    log.warning(msg)
                    continue
                owner[passage.id] = path
                by_kind[kind].append(passage.to_dict())
    if not allow_empty:
        _refuse_emptying(outputs, summary, by_kind, src_dir, pattern)
    for kind, out in outputs.items():
        summary.passages[kind.value] = write_jsonl(out, by_kind[kind])
        summary.outputs[kind.value] = str(out)
    summary.report = str(report_file)
    write_json(report_file, summary.to_dict())
    return summary


class _executor:
    """A process pool when workers > 1, else nothing (no fork cost for small inputs)."""

    def __init__(self, workers: int):
        self.pool = ProcessPoolExecutor(max_workers=workers) if workers > 1 else None

    def __enter__(self) -> ProcessPoolExecutor | None:
        return self.pool

    def __exit__(self, *exc: object) -> None:
        if self.pool:
            self.pool.shutdown(cancel_futures=True)
