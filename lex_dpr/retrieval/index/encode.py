"""The index's model and its passage vectors: loading the encoder with its fingerprint, and resumable encoding.

**Resume.** Texts are encoded in shards of ``shard_size`` in order; each finished shard is an ``.npy``
(``allow_pickle=False``) renamed into ``STAGING/shards/``. The staging state file is keyed by the caller's key
(the corpus sha256 and model fingerprint for an index, the input for ``lex-dpr embed``), the shard size and a
digest of the texts, so rerunning the same command after a kill (even SIGKILL) encodes only the shards not yet
finished; any other key starts the shards afresh.

**Model check.** Opening or updating an index with a model of another fingerprint
(:func:`~lex_dpr.models.fingerprint.model_fingerprint`) than the manifest's is refused, naming both and the fix.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lex_dpr.errors import ConfigError, InputError
from lex_dpr.models.fingerprint import fingerprint_or_name, model_fingerprint, resolve_model_folder
from lex_dpr.models.morphemes import morpheme_tokenizer
from lex_dpr.retrieval.dense import encode_passages
from lex_dpr.retrieval.index.layout import FORMAT, PASSAGES
from lex_dpr.retrieval.index.manifest import Manifest
from lex_dpr.retrieval.index.passages import text_sha256
from lex_dpr.utils.io import atomic_open, read_json_file, write_json
from lex_dpr.utils.progress import Bar

log = logging.getLogger(__name__)

ENCODE_CHUNK = 512  # passages per encode call inside a shard (at least 4 batches): the progress bar's step
DEVICES = ("cpu", "cuda", "cuda:N", "mps")


def check_device(device: str | None) -> None:
    """A ``--device`` that names no device torch knows fails here, before any model loads.

    Example:
        >>> check_device("cuda:1")
        >>> check_device("tpu")
        Traceback (most recent call last):
        lex_dpr.errors.ConfigError: --device 'tpu' is not one of cpu, cuda, cuda:N, mps (or leave it out for the best available)
    """
    import re

    if device is not None and not re.fullmatch(r"cpu|mps|cuda(:\d+)?", device.strip()):
        raise ConfigError(f"--device {device!r} is not one of {', '.join(DEVICES)} (or leave it out for the best "
                          "available)")


def looks_like_path(model: str) -> bool:
    """A local path rather than an alias or a hub id (``org/name``)."""
    return model.startswith(("/", ".", "~")) or model.count("/") > 1 or "\\" in model


def _load_encoder(name_or_path: str, device: str | None, trust_remote_code: bool):
    """``load_query_encoder`` (a module-level name so that tests can count what gets encoded): a static model
    runs on numpy, so opening an index of one (and updating it) never imports torch."""
    from lex_dpr.models.loading import load_query_encoder

    return load_query_encoder(name_or_path, device=device, trust_remote_code=trust_remote_code)


def load_with_fingerprint(model: str, device: str | None, trust_remote_code: bool):
    """The encoder and its fingerprint (for a hub id not in the local cache: a hash of its name, with a warning)."""
    encoder = _load_encoder(model, device, trust_remote_code)
    fp = model_fingerprint(model)
    if fp is None:  # a hub id whose snapshot cannot be found in the cache: the name and nothing else
        log.warning("%s: no local snapshot to fingerprint; the index records the name only", model)
    return encoder, fingerprint_or_name(model)


def encoder_for(folder: Path, manifest: Manifest, model: str | None, device: str | None, trust_remote_code: bool):
    """The encoder an index's passages were embedded with (or ``model``, if its fingerprint is the same)."""
    source, fp = check_model(folder, manifest, model)
    encoder = _load_encoder(source, device, trust_remote_code)
    if fp is None:  # a hub model not cached before loading: it is now
        check_model(folder, manifest, source, loaded=True)
    return encoder, source


def check_model(folder: Path, manifest: Manifest, model: str | None, loaded: bool = False) -> tuple[str, str | None]:
    """The model to load for an index (``model``, else the one it was built with) and its fingerprint, checked.

    Before loading, a hub model that is not cached yet cannot be fingerprinted and passes; after loading
    (``loaded``) it is checked like any other.
    """
    built = manifest.model
    assert built is not None and built.name is not None and built.fingerprint is not None
    want = built.fingerprint
    if model is None:
        model = built.name
        for candidate in (built.path, built.path_from_index and str(folder / built.path_from_index)):
            if candidate and Path(candidate).exists():
                model = candidate
                break
        if built.path and not Path(model).exists():  # a local model, moved or deleted since the build
            raise InputError(f"{folder} was built with model {built.name!r} (at {built.path}, fingerprint "
                             f"{want[:12]}), which is not there any more; pass --model with a copy of it")
        given = False
    else:
        same = str(model) == built.name or bool(built.path) and Path(model).exists() and str(
            Path(model).resolve()) == built.path
        given = not same
    fp = fingerprint_or_name(str(model)) if loaded else model_fingerprint(model)
    if fp is None or fp == want:
        return str(model), fp
    if given:
        raise InputError(
            f"{folder} was built with model {built.name!r} (fingerprint {want[:12]}), not {str(model)!r} "
            f"(fingerprint {fp[:12]}): rebuild it with `lex-dpr index build --passages {folder / PASSAGES} "
            f"--model {model} --out {folder}`, or omit --model to use {built.name!r}")
    raise InputError(
        f"the model {str(model)!r} changed since {folder} was built (fingerprint now {fp[:12]}, built with "
        f"{want[:12]}): rebuild the index with `lex-dpr index build --passages {folder / PASSAGES} --model "
        f"{model} --out {folder}`, or pass --model with the original model")


def model_section(model: str, fp: str, encoder, out: Path) -> dict:
    """The manifest's ``model`` section for a model just loaded."""
    first = getattr(encoder, "members", [encoder])[0]
    prompts = dict(getattr(first, "prompts", None) or {})
    max_len = getattr(first, "max_seq_length", None)
    return {"name": str(model), **model_paths(model, out), "fingerprint": fp,
            "kind": model_kind(Path(model)), "prompts": {"query": prompts.get("query"), "document": prompts.get("document")},
            "max_seq_length": None if max_len in (None, float("inf")) else int(max_len),
            "members": len(getattr(encoder, "members", [encoder]))}


def model_paths(model: str, out: Path) -> dict:
    """Where a local model is: absolute, and relative to the index (found again when both move together)."""
    path = Path(model)
    if not path.exists():
        return {"path": None, "path_from_index": None}
    return {"path": str(path.resolve()), "path_from_index": os.path.relpath(path.resolve(), out.resolve())}


def model_kind(path: Path) -> str:
    """``hub``, ``folder``, or the kind the model's ``lexdpr_model.json`` records (``static``, ``lora`` ...)."""
    from lex_dpr.models.metadata import read_metadata

    if not path.is_dir():
        return "hub"
    folder = resolve_model_folder(path)
    meta = read_metadata(folder)
    return meta.kind if meta else "folder"


def encode_resumable(encoder, texts: Sequence[str], staging: Path, key: dict, shard_size: int, batch_size: int,
                     show_progress: bool, workers: int = 1, load: tuple | None = None) -> tuple[list[Path], dict]:
    """Encode ``texts`` into ``.npy`` shards under ``staging/shards``; finished shards of the same key are reused.

    With ``workers`` > 1 and ``load`` (the ``(model, device, trust_remote_code)`` to load the encoder with), the
    shards still to do are shared out to that many processes, each loading the model once and writing its
    shards into the same folder (each shard is written whole, under its own name, so an interrupted run resumes
    the same way). The vectors are the same as one process's: each text is encoded on its own.

    Returns the shard paths in order and ``{"encoded": passages encoded now, "reused_shards": shards reused}``.
    """
    shards_dir = staging / "shards"
    digest = hashlib.sha256()
    for t in texts:
        digest.update(text_sha256(t).encode())
    key = {"format": FORMAT, **key, "shard_size": shard_size, "texts_sha256": digest.hexdigest(), "passages": len(texts)}
    state_path = staging / "state.json"
    state = None
    if state_path.is_file():
        with contextlib.suppress(InputError):
            state = read_json_file(state_path)
    if state != key:
        shutil.rmtree(shards_dir, ignore_errors=True)
        staging.mkdir(parents=True, exist_ok=True)
        write_json(state_path, key)
    shards_dir.mkdir(parents=True, exist_ok=True)
    n_shards = -(-len(texts) // shard_size)
    paths = [shards_dir / f"shard-{i:05d}.npy" for i in range(n_shards)]
    todo, dim = [], None
    for i, path in enumerate(paths):
        rows = min(shard_size, len(texts) - i * shard_size)
        shape = _npy_shape(path)
        if shape is not None and shape[0] == rows and (dim is None or shape[1] == dim):
            dim = shape[1]
        else:
            todo.append(i)
    encoded = 0
    with Bar("encode", len(texts), "passages", show_progress,
             completed=len(texts) - sum(min(shard_size, len(texts) - i * shard_size) for i in todo)) as bar:
        if workers > 1 and load is not None and len(todo) > 1:
            for i, dims in _encode_in_processes(texts, paths, todo, shard_size, batch_size, workers, load,
                                                morpheme_tokenizer(encoder)):
                if dim is not None and dims != dim:
                    raise InputError(f"the model gives {dims}-dimensional vectors, the finished shards in "
                                     f"{shards_dir} {dim}; remove {staging} and build again")
                dim = dims
                rows = min(shard_size, len(texts) - i * shard_size)
                encoded += rows
                bar.advance(rows)
            todo = []
        for i in todo:
            part = texts[i * shard_size:(i + 1) * shard_size]
            vectors = np.vstack(_chunks(encoder, part, batch_size, bar.advance))
            if dim is not None and vectors.shape[1] != dim:
                raise InputError(f"the model gives {vectors.shape[1]}-dimensional vectors, the finished shards in "
                                 f"{shards_dir} {dim}; remove {staging} and build again")
            dim = vectors.shape[1]
            with atomic_open(paths[i]) as fh:
                np.save(fh, vectors, allow_pickle=False)
            encoded += len(part)
    return paths, {"encoded": encoded, "reused_shards": n_shards - len(todo), "shards": n_shards}


def _encode_in_processes(texts: Sequence[str], paths: list[Path], todo: list[int], shard_size: int, batch_size: int,
                         workers: int, load: tuple, morphemes=None):
    """(shard, dimension) as each of ``todo`` is written by a pool of ``workers`` processes (spawned: torch and
    OpenMP do not survive a fork). A model that reads morphemes gets each shard's along with it from
    ``morphemes`` (the parent's :class:`~lex_dpr.models.morphemes.MorphemeTokenizer`, primed from make-pairs'
    cache): without them every worker ran Kiwi over its shards (100k passages, 2 workers: 255 s against 60 s)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    threads = max(1, (os.cpu_count() or 1) // workers)
    with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=multiprocessing.get_context("spawn"),
                             initializer=_worker_start, initargs=(*load, threads)) as pool:
        futures = {}
        for i in todo:
            part = list(texts[i * shard_size:(i + 1) * shard_size])
            known = morphemes.known(part) if morphemes is not None else None
            futures[pool.submit(_worker_encode, part, str(paths[i]), batch_size, known)] = i
        for future in as_completed(futures):
            yield futures[future], future.result()


_WORKER: dict = {}


def _worker_start(model: str, device: str | None, trust_remote_code: bool, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    _WORKER["encoder"] = _load_encoder(model, device, trust_remote_code)


def _worker_encode(texts: list[str], path: str, batch_size: int, morphemes: list[str | None] | None = None) -> int:
    encoder = _WORKER["encoder"]
    if morphemes is not None and (tokenizer := morpheme_tokenizer(encoder)) is not None:
        tokenizer.teach(texts, morphemes)
    vectors = np.vstack(_chunks(encoder, texts, batch_size, lambda n: None))
    if tokenizer := morpheme_tokenizer(encoder):
        tokenizer.forget()  # a worker keeps only its current shard's
    with atomic_open(path) as fh:
        np.save(fh, vectors, allow_pickle=False)
    return int(vectors.shape[1])


def _chunks(encoder, texts: Sequence[str], batch_size: int, advance) -> list[np.ndarray]:
    out = []
    chunk = max(ENCODE_CHUNK, 4 * batch_size)
    for s in range(0, len(texts), chunk):
        out.append(encode_passages(encoder, texts[s:s + chunk], batch_size))
        advance(len(out[-1]))
    return out


def _npy_shape(path: Path) -> tuple[int, ...] | None:
    """The shape of a whole 2-D float32 ``.npy`` file, else None (missing, cut, another dtype)."""
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    return array.shape if array.dtype == np.float32 and array.ndim == 2 else None



