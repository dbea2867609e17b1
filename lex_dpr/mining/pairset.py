"""make-pairs' outputs as one set: written together, renamed into place together, checked together.

A run writes every output (train/valid/test pairs, fallback passages, summary) into a temporary folder
beside them, ``.{stem}.XXXX.set.tmp``, then the manifest ``{stem}.manifest.json`` (each file's name,
sha256 and the run's settings) into that folder: that is the commit point. Then it renames the files
into place, the manifest last, and removes the folder.

A kill before the commit point leaves the old set untouched (the next run removes the temporary folder).
A kill between the renames leaves a committed folder; whoever comes next under the output lock (the next
make-pairs run, or a reader through :func:`check_pair_set`) finishes the renames, so the set is the new
one, complete. A set mixed any other way (a file copied in by hand, a file from another run) does not
match its manifest, and :func:`check_pair_set` refuses it.

Example:
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "pairs_train.jsonl"
    >>> with PairSetWriter(out, {"seed": 1}) as w:
    ...     w.write_jsonl("pairs_train.jsonl", [{"query_id": "q1"}])
    1
    >>> sorted(p.name for p in out.parent.iterdir())
    ['pairs_train.jsonl', 'pairs_train.manifest.json']
    >>> check_pair_set(out)  # matches: returns quietly
    >>> _ = out.write_text('{"query_id": "other"}\\n')
    >>> check_pair_set(out)
    Traceback (most recent call last):
    lex_dpr.errors.InputError: .../pairs_train.jsonl does not match pairs_train.manifest.json (written by another make-pairs run, or a run that was killed); run make-pairs again
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from lex_dpr.errors import InputError
from lex_dpr.mining.split_files import set_stem
from lex_dpr.utils.folders import fsync_dir
from lex_dpr.utils.io import WriteError, folder_lock, sha256_file, try_lock, write_json, write_jsonl

log = logging.getLogger(__name__)

FORMAT = "lex-dpr pair set"
MANIFEST_SUFFIX = ".manifest.json"
SET_SUFFIX = ".set.tmp"
LOCK_NAME = ".make-pairs.lock"  # one per output folder: prec_fallback_passages.jsonl is shared by every stem


def manifest_path(out: str | Path) -> Path:
    """The manifest beside a make-pairs ``--out``: pairs_train.jsonl → pairs_train.manifest.json"""
    out = Path(out)
    return out.with_name(set_stem(out) + MANIFEST_SUFFIX)


@contextlib.contextmanager
def output_lock(folder: str | Path) -> Iterator[Path]:
    """Hold the output folder against a second make-pairs run; the second one fails at once with one line."""
    with folder_lock(folder, LOCK_NAME, "make-pairs run writing to this folder") as lock:
        yield lock


class PairSetWriter:
    """Collect the outputs of one run in a temporary folder; on a clean exit, commit them as one set.

    Outputs the previous manifest of this stem listed and this run did not write (a test split no longer
    asked for) are removed in the same commit. Hold :func:`output_lock` around it.
    """

    def __init__(self, out: str | Path, settings: dict[str, Any]) -> None:
        self.out = Path(out)
        self.folder = self.out.parent
        self.stem = set_stem(self.out)
        self.settings = settings
        self.names: list[str] = []
        self.tmp: Path | None = None

    def __enter__(self) -> PairSetWriter:
        try:
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.stem}.", suffix=SET_SUFFIX, dir=self.folder))
        except OSError as exc:
            raise WriteError(self.folder, exc) from None
        return self

    def write_jsonl(self, name: str, records: Iterable[Any]) -> int:
        assert self.tmp is not None, "use PairSetWriter in a with block"
        self.names.append(name)
        return write_jsonl(self.tmp / name, records)

    def write_json(self, name: str, obj: Any) -> None:
        assert self.tmp is not None, "use PairSetWriter in a with block"
        self.names.append(name)
        write_json(self.tmp / name, obj)

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self.tmp is not None
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)  # not committed: the old set stays as it was
            return
        try:
            old: dict = {}
            with contextlib.suppress(InputError):  # an unreadable old manifest is being replaced anyway
                old = _read_manifest(self.folder / (self.stem + MANIFEST_SUFFIX), missing_ok=True)
            manifest = {"format": FORMAT, "version": 1, "stem": self.stem,
                        "files": {n: {"sha256": sha256_file(self.tmp / n), "bytes": (self.tmp / n).stat().st_size}
                                  for n in self.names},
                        "removed": sorted(set(old.get("files", {})) - set(self.names)),
                        "settings": self.settings}
            write_json(self.tmp / (self.stem + MANIFEST_SUFFIX), manifest)  # the commit point
            fsync_dir(self.tmp)
        except BaseException:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise
        try:
            _roll_forward(self.tmp, self.folder)
        except OSError as exc:
            raise WriteError(self.folder, exc, "the new set is kept in "
                             f"{self.tmp.name}; fix the folder and run make-pairs again") from None


def clean_leftovers(folder: str | Path, names: Iterable[str] = ()) -> list[str]:
    """Finish committed sets cut short, remove uncommitted ones and stale ``.NAME.*.tmp`` files of ``names``.

    Call it holding :func:`output_lock`. Returns what was done, one entry per leftover.
    """
    folder = Path(folder)
    done = []
    for setdir in _pending_sets(folder):
        committed = _roll_forward(setdir, folder)
        done.append(f"{setdir.name}: " + ("finished its renames" if committed else "removed (not committed)"))
    for name in names:
        for tmp in folder.glob(f".{_glob_escape(name)}.*.tmp"):
            with contextlib.suppress(OSError):
                shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()
                done.append(f"{tmp.name}: removed")
    for line in done:
        log.info("%s: %s", folder, line)
    return done


def check_pair_set(path: str | Path) -> None:
    """Check a file written by make-pairs against the manifest beside it (no manifest: nothing to check).

    Every file of the set that is present must have the sha256 the manifest records, so a train split of
    one run next to the valid split of another is refused before anything trains or scores on it. A set
    whose renames were cut short by a kill is finished first, when no make-pairs run holds the folder.

    Raises:
        InputError: naming the file that does not match and what to do.
    """
    path = Path(path)
    folder = path.parent
    if not path.is_file():
        return  # the reader names a missing file itself
    pending = [d for d in _pending_sets(folder) if _committed(d)]
    if pending:
        _finish_for_reader(folder, path, pending)
    for manifest_file in sorted(folder.glob("*" + MANIFEST_SUFFIX)):
        manifest = _read_manifest(manifest_file)
        files = manifest.get("files", {})
        if path.name not in files:
            continue
        for name, meta in files.items():
            member = folder / name
            if name != path.name and not member.is_file():
                continue  # a member moved away or deleted; the files that are here are what matters
            if not member.is_file() or _sha256(member) != meta.get("sha256"):
                raise InputError(f"{member} does not match {manifest_file.name} (written by another make-pairs "
                                 "run, or a run that was killed); run make-pairs again")


def member_of(path: str | Path) -> Path | None:
    """The manifest listing ``path`` as part of a make-pairs set, if any (to refuse overwriting it)."""
    path = Path(path)
    if not path.parent.is_dir():
        return None
    for manifest_file in sorted(path.parent.glob("*" + MANIFEST_SUFFIX)):
        with contextlib.suppress(InputError):
            if path.name in _read_manifest(manifest_file).get("files", {}):
                return manifest_file
    return None


def _finish_for_reader(folder: Path, path: Path, pending: list[Path]) -> None:
    killed = (f"{path}: a make-pairs run was killed while replacing this set, and it cannot be finished here "
              "({}); run make-pairs again")
    try:
        lock = try_lock(folder / LOCK_NAME)
    except OSError as exc:
        raise InputError(killed.format(exc.strerror)) from None
    if lock is None:
        raise InputError(f"{path}: a make-pairs run is replacing this set right now (lock {folder / LOCK_NAME}); "
                         "wait for it to finish")
    try:
        for setdir in _pending_sets(folder):
            if _committed(setdir):
                _roll_forward(setdir, folder)
                log.warning("%s: finished the renames of a make-pairs run that was killed while committing", folder)
    except OSError as exc:
        raise InputError(killed.format(exc.strerror)) from None
    finally:
        lock.close()


def _pending_sets(folder: Path) -> list[Path]:
    """Temporary set folders, oldest commit first (a later commit must win)."""
    dirs = [d for d in folder.glob(".*" + SET_SUFFIX) if d.is_dir()]
    return sorted(dirs, key=lambda d: (_committed(d) or d).stat().st_mtime_ns)


def _committed(setdir: Path) -> Path | None:
    return next((m for m in setdir.glob("*" + MANIFEST_SUFFIX) if m.is_file()), None)


def _roll_forward(setdir: Path, folder: Path) -> bool:
    """Rename a committed set's files into place, the manifest last; remove an uncommitted one. Idempotent."""
    manifest_file = _committed(setdir)
    if manifest_file is None:
        shutil.rmtree(setdir, ignore_errors=True)
        return False
    manifest = _read_manifest(manifest_file)
    for name in manifest.get("files", {}):
        src = setdir / name
        if src.exists():  # absent: moved before the kill
            os.replace(src, folder / name)
    for name in manifest.get("removed", []):
        with contextlib.suppress(FileNotFoundError):
            (folder / name).unlink()
    os.replace(manifest_file, folder / manifest_file.name)
    fsync_dir(folder)
    shutil.rmtree(setdir, ignore_errors=True)
    return True


def _read_manifest(path: Path, missing_ok: bool = False) -> dict:
    try:
        manifest = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        if missing_ok:
            return {}
        raise InputError(f"{path}: file not found") from None
    except (OSError, orjson.JSONDecodeError) as exc:
        raise InputError(f"{path}: unreadable make-pairs manifest ({exc}); delete it and run make-pairs again") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(manifest.get("files"), dict):
        raise InputError(f"{path}: not a make-pairs manifest; delete it and run make-pairs again")
    return manifest


_HASHES: dict[tuple, str] = {}


def _sha256(path: Path) -> str:
    """sha256 of a file, remembered while the file is unchanged (train and valid checks share the set)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_ino, st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        _HASHES[key] = sha256_file(path)
    return _HASHES[key]


def _glob_escape(name: str) -> str:
    import glob

    return glob.escape(name)
