"""The names of a pair set's split files: one rule for make-pairs, which writes them, and every reader.

make-pairs' ``--out pairs_train.jsonl`` is the training split; the other splits are its siblings, named
``{stem}_{split}.jsonl`` where the stem is the file name without ``.jsonl``: ``pairs_train_valid.jsonl``,
``pairs_train_test.jsonl``, ``pairs_train_heldout.jsonl``. Training finds its validation set with
:func:`split_sibling`, ``rag tune`` finds the training pairs of a ``_valid`` file with :func:`split_base`,
and training refuses a held-out file by :func:`split_of`.

Example:
    >>> split_sibling("out/pairs_train.jsonl", "valid").as_posix()
    'out/pairs_train_valid.jsonl'
    >>> split_base("out/pairs_train_valid.jsonl").as_posix(), split_of("out/pairs_train_heldout.jsonl")
    ('out/pairs_train.jsonl', 'heldout')
    >>> split_base("out/pairs_train.jsonl"), split_of("out/pairs_train.jsonl")
    (None, None)
"""

from __future__ import annotations

from pathlib import Path

SPLITS = ("valid", "test", "heldout")  # the siblings make-pairs may write beside --out (the train split)
SUFFIX = ".jsonl"


def set_stem(out: str | Path) -> str:
    """The stem every file of a pair set is named from: ``pairs_train.jsonl`` → ``pairs_train``."""
    return Path(out).name.removesuffix(SUFFIX)


def split_sibling(pairs: str | Path, split: str) -> Path:
    """The ``split`` file make-pairs writes beside ``pairs``: ``x/p.jsonl`` → ``x/p_valid.jsonl``.

    Raises:
        ValueError: ``split`` is not one of :data:`SPLITS`.
    """
    if split not in SPLITS:
        raise ValueError(f"split {split!r} is not one of {', '.join(SPLITS)}")
    pairs = Path(pairs)
    return pairs.with_name(f"{set_stem(pairs)}_{split}{SUFFIX}")


def split_of(path: str | Path) -> str | None:
    """Which sibling split ``path`` is named as (``valid``, ``test``, ``heldout``), or None for another file.

    A file not ending in ``.jsonl`` is read by its last suffix (``x_heldout.json`` is a held-out split too).
    """
    stem, _ = _stem_suffix(Path(path))
    return next((s for s in SPLITS if stem.endswith(f"_{s}") and len(stem) > len(s) + 1), None)


def split_base(path: str | Path) -> Path | None:
    """The training file a split file is the sibling of (``p_valid.jsonl`` → ``p.jsonl``), or None for another file."""
    split = split_of(path)
    if split is None:
        return None
    path = Path(path)
    stem, suffix = _stem_suffix(path)
    return path.with_name(stem.removesuffix(f"_{split}") + suffix)


def _stem_suffix(path: Path) -> tuple[str, str]:
    if path.name.endswith(SUFFIX):
        return set_stem(path), SUFFIX
    return path.stem, path.suffix
