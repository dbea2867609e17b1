"""The index manifest, typed: :class:`Manifest` and its sections, read from and written to ``manifest.json``.

Every manifest this format has had reads: an index built before the per-file digests (``files`` entries with
a size only, folders without their files), before BM25 recorded its search ``fields``. A section keeps the
keys it did not know (``extra``) and leaves out the ones its manifest did not have, so
``Manifest.from_dict(d).to_dict() == d`` for every manifest written so far, and ``index info --json`` prints
what the file says.

Example:
    >>> m = Manifest.from_dict({"format": 1, "passages": 2, "corpus_sha256": "ab",
    ...                         "corpus": {"source": "c.jsonl", "sha256": "ab", "skipped_lines": 0},
    ...                         "model": None, "dense": None, "bm25": {"library": "bm25s", "k1": 1.5},
    ...                         "files": {"passages": {"path": "passages.jsonl", "bytes": 10}}})
    >>> m.passages, m.corpus.source, m.bm25.k1, m.bm25.fields, m.files["passages"].sha256
    (2, 'c.jsonl', 1.5, None, None)
    >>> m.to_dict()["bm25"], m.to_dict()["files"]
    ({'library': 'bm25s', 'k1': 1.5}, {'passages': {'path': 'passages.jsonl', 'bytes': 10}})
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from lex_dpr.errors import InputError
from lex_dpr.retrieval.index.layout import FORMAT, MANIFEST, old_dir
from lex_dpr.utils.clock import utc_now
from lex_dpr.utils.io import read_json_file

_S = TypeVar("_S", bound="_Section")


@dataclass
class _Section:
    """A manifest section: known keys as fields, unknown ones in ``extra``; keys the file lacked stay out."""

    extra: dict[str, Any] = field(default_factory=dict, repr=False)
    absent: frozenset[str] = field(default=frozenset(), repr=False, compare=False)

    @classmethod
    def _known(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls) if f.name not in ("extra", "absent")]

    @classmethod
    def from_dict(cls: type[_S], data: dict) -> _S:
        known = cls._known()
        return cls(**{k: data[k] for k in known if k in data},
                   extra={k: v for k, v in data.items() if k not in known},
                   absent=frozenset(k for k in known if k not in data))

    def to_dict(self) -> dict:
        out = {}
        for f in dataclasses.fields(self):
            if f.name in ("extra", "absent"):
                continue
            value = getattr(self, f.name)
            if f.name in self.absent and value is None:
                continue
            out[f.name] = value
        return {**out, **self.extra}


@dataclass
class FileEntry(_Section):
    """One file of the index (or a folder and its files): size, sha256 and sampled sha256 where recorded."""

    path: str | None = None
    bytes: int | None = None
    sha256: str | None = None
    sample_sha256: str | None = None
    files: dict[str, FileEntry] | None = None

    @classmethod
    def from_dict(cls, data: dict) -> FileEntry:
        entry = super().from_dict(data)
        if entry.files is not None:
            entry.files = {rel: FileEntry.from_dict(e) for rel, e in entry.files.items()}
        return entry

    def to_dict(self) -> dict:
        out = super().to_dict()
        if self.files is not None:
            out["files"] = {rel: e.to_dict() for rel, e in self.files.items()}
        return out

    def members(self, folder: Path) -> list[tuple[Path, FileEntry]]:
        """(path, entry) of each file this entry records under ``folder``: itself, or a folder's files."""
        path = folder / (self.path or "")
        if self.files is not None:
            return [(path / rel, e) for rel, e in self.files.items()]
        return [(path, self)] if not path.is_dir() else []  # a folder recorded without its files: nothing to check

    def digests(self) -> list[FileEntry]:
        """The entries that describe one file each (a folder's files, or this one)."""
        return list(self.files.values()) if self.files is not None else [self]


@dataclass
class CorpusInfo(_Section):
    """The passage file the index was built (or last updated) from."""

    source: str | None = None
    sha256: str | None = None
    skipped_lines: int = 0


@dataclass
class ModelInfo(_Section):
    """The dense model: its name, where it was, its fingerprint, prompts and dimension."""

    name: str | None = None
    path: str | None = None
    path_from_index: str | None = None
    fingerprint: str | None = None
    kind: str | None = None
    prompts: dict[str, str | None] | None = None
    max_seq_length: int | None = None
    members: int | None = None
    dim: int | None = None


@dataclass
class DenseInfo(_Section):
    """The FAISS index: kind, the parameters it got, the options it was asked for."""

    kind: str = "flat"
    params: dict[str, int] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    dim: int | None = None
    metric: str | None = None
    normalized: bool | None = None
    dtype: str | None = None


@dataclass
class BM25Info(_Section):
    """The BM25 index: library, parameters, the record fields it searches (None: texts only), vocabulary."""

    library: str | None = None
    version: str | None = None
    k1: float | None = None
    b: float | None = None
    method: str | None = None
    fields: list[str] | None = None
    vocabulary: int | None = None
    mmap: bool | None = None


@dataclass
class Manifest(_Section):
    """``manifest.json``: what an index holds and how it was made (the CLI reads it by attribute)."""

    format: int = FORMAT
    lex_dpr_version: str | None = None
    built_at: str | None = None
    updated_at: str | None = None
    passages: int = 0
    corpus_sha256: str | None = None
    corpus: CorpusInfo = field(default_factory=CorpusInfo)
    model: ModelInfo | None = None
    dense: DenseInfo | None = None
    bm25: BM25Info | None = None
    tokenizer: dict[str, Any] | None = None
    files: dict[str, FileEntry] = field(default_factory=dict)
    build: dict[str, Any] | None = None
    updates: list[dict[str, Any]] = field(default_factory=list)

    _SECTIONS = {"corpus": CorpusInfo, "model": ModelInfo, "dense": DenseInfo, "bm25": BM25Info}

    @classmethod
    def from_dict(cls, data: dict) -> Manifest:
        m = super().from_dict(data)
        for name, section in cls._SECTIONS.items():
            value = getattr(m, name)
            if isinstance(value, dict):
                setattr(m, name, section.from_dict(value))
        m.files = {name: FileEntry.from_dict(e) for name, e in (m.files or {}).items()}
        m.updates = list(m.updates or [])
        return m

    def to_dict(self) -> dict:
        out = super().to_dict()
        for name in self._SECTIONS:
            if name in out and isinstance(out[name], _Section):
                out[name] = out[name].to_dict()
        out["files"] = {name: e.to_dict() for name, e in self.files.items()}
        return out

    def file_digests(self) -> list[FileEntry]:
        """Every file entry (folders expanded to their files), as ``--verify`` checks them."""
        return [e for entry in self.files.values() for e in entry.digests()]


def read_manifest(index_dir: str | Path) -> Manifest:
    """The manifest of an index folder.

    Raises:
        InputError: no index there (with the build command), an unreadable manifest, or another format.
    """
    folder = Path(index_dir)
    path = folder / MANIFEST
    if not path.is_file():
        old = old_dir(folder)
        if not folder.exists() and old.is_dir():
            raise InputError(f"{folder}: not there, but {old} is: an update was interrupted while swapping "
                             f"folders; rerun `lex-dpr index update {folder} ...` (or rename {old} back)")
        what = "no such folder" if not folder.exists() else f"no {MANIFEST}"
        raise InputError(f"{folder}: not a lex-dpr index ({what}); build one with "
                         f"`lex-dpr index build --passages merged_corpus.jsonl --model RUN --out {folder}`")
    data = read_json_file(path)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else None
        raise InputError(f"{path}: index format {found!r}, this lex-dpr reads format {FORMAT}; build the index again "
                         "with `lex-dpr index build`")
    return Manifest.from_dict(data)


def tokenizer_settings() -> dict:
    """The BM25 tokeniser as the manifest records it (Kiwi version, tags, options, cache key)."""
    from lex_dpr.data import tokenize as t
    from lex_dpr.data.tokenize import settings_key

    return {"name": "kiwi", "kiwipiepy": package_version("kiwipiepy"), "settings_key": settings_key(),
            "kept_tags": list(t.KEPT_TAGS), "cutoff_threshold": t.CUTOFF_THRESHOLD, "options": dict(t._OPTIONS),
            "typo_dict": False, "multi_dict": False, "sentence_pieces": t._PIECES.pattern}


def package_version(package: str) -> str:
    """An installed package's version, or ``unknown``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:  # pragma: no cover
        return "unknown"


def now() -> str:
    """The time a manifest records: UTC, seconds, ``Z``."""
    return utc_now()
