"""The corpus and pair files every stage reads: passages by id, and (query, positives, negatives) pairs.

Mining, training, evaluation, indexing and RAG all read through these two functions, so a bad line is
reported the same way everywhere (file, line, reason) and skipped.

Example:
    >>> corpus = Corpus(["LAW_1_제1조", "LAW_1_제2조"], ["제1조(목적) ...", "제2조(정의) ..."], [{}, {}])
    >>> corpus.index["LAW_1_제2조"], len(corpus)
    (1, 2)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from lex_dpr.errors import InputError
from lex_dpr.utils.io import BadLine, gc_paused, iter_jsonl, iter_passages

log = logging.getLogger(__name__)


@dataclass
class Corpus:
    """Passage ids and texts, with each passage's record for breakdowns (law name, type)."""

    ids: list[str]
    texts: list[str]
    records: list[dict]
    index: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = {pid: i for i, pid in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)


def check_encoding(path: str | Path, sample: int = 1 << 20) -> None:
    """Fail at once, naming the encoding, on a passage file saved in another encoding than UTF-8 (instead of
    one warning per line, then "no passages"). Reads the first ``sample`` bytes; a UTF-8 file with a few bad
    lines passes (they are skipped and reported one by one).

    Raises:
        InputError: the start of the file is CP949/EUC-KR (Korean Windows) or UTF-16, with the command to convert it.

    Example:
        >>> import tempfile
        >>> f = Path(tempfile.mkdtemp()) / "corpus.jsonl"
        >>> _ = f.write_bytes('{"id": "a", "text": "제1조(목적)"}\\n'.encode("cp949"))
        >>> check_encoding(f)
        Traceback (most recent call last):
        lex_dpr.errors.InputError: .../corpus.jsonl: not UTF-8 text (byte 21 is not UTF-8); it reads as CP949 (EUC-KR, Korean Windows): convert it with `iconv -f cp949 -t utf-8 .../corpus.jsonl > .../corpus.utf8.jsonl`
    """
    import codecs

    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(sample)
    except OSError:
        return  # the reader reports a missing or unreadable file in its own words
    try:
        codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=len(head) < sample)
        return
    except UnicodeDecodeError as exc:
        at = exc.start
    for name, label in (("utf-16", "UTF-16"), ("cp949", "CP949 (EUC-KR, Korean Windows)")):
        if name == "utf-16" and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            continue
        try:
            codecs.getincrementaldecoder(name)().decode(head, final=len(head) < sample)
        except UnicodeDecodeError:
            continue
        fixed = path.with_name(path.name.removesuffix(path.suffix) + ".utf8" + path.suffix)
        raise InputError(f"{path}: not UTF-8 text (byte {at} is not UTF-8); it reads as {label}: convert it with "
                         f"`iconv -f {name} -t utf-8 {path} > {fixed}`")


def read_corpus(path: str | Path) -> Corpus:
    """Read passage JSONL; records without id or text are skipped with one line each.

    Raises:
        InputError: no passage with id and text, or a file in another encoding than UTF-8 (named).
    """
    check_encoding(path)
    bad: list[BadLine] = []
    ids, texts, records = [], [], []
    with gc_paused():
        for rec in iter_passages(path, bad):
            ids.append(rec["id"])
            texts.append(rec.pop("text"))
            records.append(rec)
    for b in bad:
        log.warning("skipped %s", b)
    if not ids:
        raise InputError(f"{path}: no passages with id and text")
    return Corpus(ids, texts, records)


def read_pairs(path: str | Path, corpus: Corpus | None = None, corpus_flag: str = "--passages") -> list[dict]:
    """Read pair JSONL; pairs with no query text or no positive in ``corpus`` are skipped and counted.

    Labelled questions (``data/questions/questions.jsonl``: ``id``, ``question``, ``positive_passages``) read as
    pairs too. ``corpus_flag`` names where the corpus came from in the message when no pair is usable.
    """
    bad: list[BadLine] = []
    pairs, dropped = [], 0
    with gc_paused():
        for rec in iter_jsonl(path, bad):
            if "query_text" not in rec and isinstance(rec.get("question"), str):
                rec["query_text"] = rec.pop("question")
                rec.setdefault("query_id", str(rec.get("id", "")))
            positives = [p for p in rec.get("positive_passages") or [] if corpus is None or p in corpus.index]
            if not rec.get("query_text") or not positives:
                dropped += 1
                continue
            rec["positive_passages"] = positives
            rec.setdefault("meta", {}).setdefault("prec_id", rec.get("query_id", ""))
            rec["meta"].setdefault("type", "prec")
            pairs.append(rec)
    for b in bad:
        log.warning("skipped %s", b)
    if dropped:
        log.warning("%s: %d pair(s) without query text or a positive in the corpus were skipped", path, dropped)
    if not pairs:
        raise InputError(f"{path}: no usable pairs (check that {corpus_flag} is the corpus the pairs were mined on)")
    return pairs
