"""``rag batch``'s answer cache: answers by normalised question, one append-only JSONL file per answerer fingerprint.

The file is a journal (:mod:`lex_dpr.utils.journal`): a torn last line (a kill mid-write) is dropped and cut
away before the next append; any other line that is not ``{"q": ..., "answer": {...}}`` is skipped and named in
one warning (its question is simply answered again). Appends are flushed after every batch. A failed
generation is never cached. A cache folder that cannot be written means answering without a cache.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from lex_dpr.rag.answer import Answer
from lex_dpr.utils.io import BadLine, dumps
from lex_dpr.utils.journal import open_append, read_journal

log = logging.getLogger(__name__)


def _not_an_entry(rec: Any) -> str | None:
    if isinstance(rec, dict) and isinstance(rec.get("q"), str) and isinstance(rec.get("answer"), dict):
        return None
    return "not an answer cache entry"


class AnswerCache:
    """Answers by normalised question, one append-only JSONL file per answerer fingerprint."""

    def __init__(self, folder: str | Path | None, fingerprint: str) -> None:
        self.entries: dict[str, dict] = {}
        self.path = Path(folder) / f"{fingerprint}.jsonl" if folder is not None else None
        self._fh = None
        if self.path is None:
            return
        if self.path.is_file():
            bad: list[BadLine] = []
            entries, _ = read_journal(self.path, check=_not_an_entry, bad=bad)
            for e in entries:
                self.entries[e.value["q"]] = e.value["answer"]
            if bad:
                log.warning("%s: %d line(s) are not answer cache entries; skipped (answered again on demand); "
                            "the first: %s", self.path, len(bad), bad[0])
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open_append(self.path)  # a line torn by a kill is cut away, never glued onto
        except OSError as exc:
            log.warning("%s: cannot write the answer cache (%s); answering without it", self.path, exc.strerror)
            self.path = None

    def get(self, key: str) -> Answer | None:
        d = self.entries.get(key)
        return Answer.from_dict(d) if d is not None else None

    def put(self, key: str, answer: Answer) -> None:
        if answer.error is not None:
            return  # a failed generation is retried next time
        d = answer.to_dict()
        self.entries[key] = d
        if self._fh is not None:
            self._fh.write(dumps({"q": key, "answer": d}))

    def flush(self) -> None:
        if self._fh is not None:
            self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
