"""``lex-dpr preprocess``: a folder of Open API JSON files → passage JSONL files, one per kind."""

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

    @property
    def skip_reasons(self) -> Counter:
        return Counter(s.reason.split(" (")[0] for s in self.skipped)

    def to_dict(self) -> dict:
        return {"files": dict(self.files), "passages": dict(self.passages),
                "dropped_units": dict(self.dropped_units), "skipped_files": [str(s) for s in self.skipped],
                "skip_reasons": dict(self.skip_reasons), "warnings": self.warnings, "outputs": self.outputs}


def _parse_file(args: tuple[str, Unit, str]) -> tuple[str, SourceKind | None, ParseResult | None, str]:
    """Worker: parse one file; returns (path, kind, result, error). Never raises for bad input."""
    path, unit, as_of = args
    try:
        doc = read_json_file(path)
    except InputError as exc:
        return path, None, None, str(exc).removeprefix(f"{path}: ")
    kind = detect_kind(doc)
    if kind is None:
        keys = ", ".join(list(doc)[:5]) if isinstance(doc, dict) else type(doc).__name__
        return path, None, None, f"unknown layout (top-level: {keys})"
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


def preprocess(
    src_dir: str | Path,
    out_law: str | Path,
    out_admin: str | Path,
    out_prec: str | Path,
    pattern: str = "**/*.json",
    unit: Unit = "article",
    as_of: str | None = None,
    workers: int = 1,
    show_progress: bool = False,
) -> PreprocessReport:
    """Parse every JSON file under ``src_dir`` and write one passage JSONL per kind.

    Files are parsed in parallel with ``workers`` processes; output order is the sorted
    file order, so reruns give byte-identical files. A bad file is logged with its reason
    and skipped; a passage id seen twice is an error naming both files.

    Example:
        >>> report = preprocess("data/sample", "out/law.jsonl", "out/admin.jsonl", "out/prec.jsonl")  # doctest: +SKIP
        >>> report.passages["law"] > 0  # doctest: +SKIP
        True
    """
    as_of = as_of or date.today().strftime("%Y%m%d")
    outputs = {"--out-law": Path(out_law), "--out-admin": Path(out_admin), "--out-prec": Path(out_prec)}
    resolved = [p.resolve() for p in outputs.values()]
    same = [flag for flag, path in outputs.items() if resolved.count(path.resolve()) > 1]
    if same:
        raise ConfigError(f"{' and '.join(same)} name the same file; give each kind its own output")
    for flag, path in outputs.items():  # before parsing anything: a read-only folder fails in a second
        ensure_writable(path, flag=flag)
    files = find_files(src_dir, pattern)
    if not files:
        raise InputError(f"{src_dir}: no files match {pattern!r}")
    report = PreprocessReport()
    by_kind: dict[SourceKind, list[dict]] = {k: [] for k in SourceKind}
    owner: dict[str, str] = {}
    jobs = [(str(p), unit, as_of) for p in files]
    with _executor(workers) as pool:
        results = pool.map(_parse_file, jobs, chunksize=64) if pool else map(_parse_file, jobs)
        for path, kind, result, error in track(results, "preprocess", total=len(jobs), enabled=show_progress):
            if error:
                report.skipped.append(FileSkip(path, error))
                log.warning("%s: %s", path, error)
                continue
            report.files[kind.value] += 1
            report.dropped_units.update(result.dropped)
            report.warnings.extend(result.warnings)
            for passage in result.passages:
                if passage.id in owner:
                    msg = f"duplicate passage id {passage.id!r} in {path} (first seen in {owner[passage.id]})"
                    report.skipped.append(FileSkip(path, msg))
                    log.warning(msg)
                    continue
                owner[passage.id] = path
                by_kind[kind].append(passage.to_dict())
    for kind, out in ((SourceKind.LAW, out_law), (SourceKind.ADMIN, out_admin), (SourceKind.PREC, out_prec)):
        report.passages[kind.value] = write_jsonl(out, by_kind[kind])
        report.outputs[kind.value] = str(out)
    write_json(Path(out_law).parent / "preprocess_report.json", report.to_dict())
    return report


class _executor:
    """A process pool when workers > 1, else nothing (no fork cost for small inputs)."""

    def __init__(self, workers: int):
        self.pool = ProcessPoolExecutor(max_workers=workers) if workers > 1 else None

    def __enter__(self) -> ProcessPoolExecutor | None:
        return self.pool

    def __exit__(self, *exc: object) -> None:
        if self.pool:
            self.pool.shutdown(cancel_futures=True)
