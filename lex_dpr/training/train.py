"""The bi-encoder recipe, top to bottom: data → model → loss → trainer → final model and run record.

Example:
    >>> from lex_dpr.training.config import load_config
    >>> cfg = load_config("configs/train.yaml", ["trainer.epochs=1", "out_dir=/tmp/lexdpr-doc"])  # doctest: +SKIP
    >>> result = train(cfg)  # doctest: +SKIP
    >>> result.metrics["eval/ndcg_at_10"]  # doctest: +SKIP
"""

from __future__ import annotations

import errno
import logging
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lex_dpr.data.corpus import Corpus, read_corpus, read_pairs
from lex_dpr.errors import ConfigError, InputError, LexDprError
from lex_dpr.models.metadata import ModelMetadata, write_metadata
from lex_dpr.runs.record import (
    METRICS_FILE,
    RunStatus,
    checkpoint_step,
    checkpoints,
    read_record,
    run_lock,
    write_record,
)
from lex_dpr.training.config import Precision, TrainConfig, WandbMode, resolve_data_paths
from lex_dpr.training.data import build_examples, pseudo_queries, read_extra_pairs
from lex_dpr.utils.config import to_overrides
from lex_dpr.utils.folders import staged_folder
from lex_dpr.utils.io import atomic_open

log = logging.getLogger(__name__)

RUN_SUBDIR = "bi_encoder"


class TrainingError(LexDprError):
    """Training stopped on a condition the user must act on (NaN loss, finished run, ...)."""


@dataclass
class TrainResult:
    run_dir: Path
    final_dir: Path
    metrics: dict[str, float]
    steps: int
    examples: int
    wall_time_s: float
    examples_per_s: float
    collapsed: bool
    score_std: float = 0.0  # spread of query-passage cosine scores on a sample (near 0: collapsed)
    mean_pairwise_cos: float = 0.0  # mean cosine between sample passages (near 1: collapsed)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["run_dir"], d["final_dir"] = str(self.run_dir), str(self.final_dir)
        return d


def train(cfg: TrainConfig, resume: bool = False, show_progress: bool = True,
          allow_changes: bool = False) -> TrainResult:
    """Train on ``cfg.data.pairs``, evaluate on ``cfg.data.valid_pairs``, write ``{out_dir}/bi_encoder/``.

    An unset ``data.valid_pairs`` means the ``_valid`` sibling of ``data.pairs`` when it exists
    (see :func:`~lex_dpr.training.config.resolve_data_paths`), else no validation set.

    ``resume`` continues from the newest complete checkpoint; a run whose settings or input files
    differ from the recorded ones is refused (the differing keys named) unless ``allow_changes``.
    """
    from lex_dpr.mining.pairset import check_pair_set

    for note in resolve_data_paths(cfg):
        log.info("%s", note)
    for path in (cfg.data.pairs, cfg.data.valid_pairs):
        if path:
            check_pair_set(path)  # a set mixed by a killed make-pairs is refused, not trained on
    corpus = read_corpus(cfg.data.passages)
    train_pairs = read_pairs(cfg.data.pairs, corpus) + read_extra_pairs(cfg.data.extra_pairs, corpus)
    valid_pairs = read_pairs(cfg.data.valid_pairs, corpus) if cfg.data.valid_pairs else []
    return train_model(cfg, corpus, train_pairs, valid_pairs, Path(cfg.out_dir) / RUN_SUBDIR, resume, show_progress,
                       allow_changes)


def train_model(cfg: TrainConfig, corpus: Corpus, train_pairs: list[dict], valid_pairs: list[dict], run_dir: Path,
                resume: bool = False, show_progress: bool = True, allow_changes: bool = False) -> TrainResult:
    """The recipe on data already read; records ``failed``/``interrupted`` with the reason on any exit.

    The run folder is locked for the whole run: a second training on it fails at once, naming the pid. Under
    ``torchrun`` (:mod:`lex_dpr.training.distributed`) rank 0 holds the folder and the other ranks follow it.
    """
    from lex_dpr.training import distributed

    rank, size = distributed.world()
    if size > 1:
        distributed.start()
    if rank != 0:
        checkpoint = distributed.share()
        return _run(cfg, corpus, train_pairs, valid_pairs, run_dir, checkpoint, False, main=False)
    try:
        try:
            lock = run_lock(run_dir)
            lock.__enter__()
        except BaseException as exc:
            distributed.share(error=exc)
            raise
        try:
            return _locked(cfg, corpus, train_pairs, valid_pairs, run_dir, resume, show_progress, allow_changes)
        finally:
            lock.__exit__(None, None, None)
    except OSError as exc:
        if exc.errno not in _DISK_ERRORS:
            raise
        raise InputError(f"{exc.filename or run_dir}: {exc.strerror} while writing the run; free space or "
                         "choose another out_dir") from None


_DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR}


def _locked(cfg: TrainConfig, corpus: Corpus, train_pairs: list[dict], valid_pairs: list[dict], run_dir: Path,
            resume: bool, show_progress: bool, allow_changes: bool) -> TrainResult:
    from lex_dpr.training import distributed

    try:
        checkpoint = _start(cfg, run_dir, resume, allow_changes)
    except BaseException as exc:
        distributed.share(error=exc)  # the other ranks stop too, instead of waiting at the first collective
        raise
    distributed.share(checkpoint)
    try:
        return _run(cfg, corpus, train_pairs, valid_pairs, run_dir, checkpoint, show_progress)
    except (KeyboardInterrupt, SystemExit) as exc:
        _record_end(run_dir, RunStatus.INTERRUPTED, " ".join(str(exc).split()) or "interrupted")
        raise
    except BaseException as exc:
        _record_end(run_dir, RunStatus.FAILED, _reason(exc))
        raise


def _start(cfg: TrainConfig, run_dir: Path, resume: bool, allow_changes: bool) -> Path | None:
    """Check the run folder (and a resume), record the run as running; the checkpoint to continue from."""
    checkpoint = _check_run_dir(run_dir, resume)
    inputs = {"pairs": cfg.data.pairs, "valid_pairs": cfg.data.valid_pairs, "passages": cfg.data.passages}
    inputs |= {f"extra_pairs[{i}]": path for i, path in enumerate(cfg.data.extra_pairs)}  # hashed for --resume
    extra = None
    if checkpoint is not None:
        changes = resume_changes(run_dir, cfg, inputs)
        if changes and not allow_changes:
            raise TrainingError(f"{run_dir}: --resume with other settings or data than the run started with: "
                                f"{'; '.join(changes)}. Resume with the same command, or pass --allow-changes "
                                "if the change is deliberate")
        history = read_record(run_dir).get("resumed", [])
        extra = {"resumed": [*history, {"from": checkpoint.name, "at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                        "changes": changes}]}
    write_record(run_dir, RunStatus.RUNNING, config=cfg.to_dict(), overrides=to_overrides(cfg), inputs=inputs,
                 extra=extra)
    return checkpoint


def _record_end(run_dir: Path, status: RunStatus, error: str) -> None:
    """Best effort: a full disk must not hide the error that ended the run."""
    try:
        write_record(run_dir, status, error=error)
    except OSError as exc:
        log.warning("%s: could not record the run as %s (%s)", run_dir, status, exc.strerror)


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _run(cfg: TrainConfig, corpus: Corpus, train_pairs: list[dict], valid_pairs: list[dict], run_dir: Path,
         checkpoint: Path | None, show_progress: bool, main: bool = True) -> TrainResult:
    """The training itself; ``main`` is False on the ranks after the first (no W&B, no final save, no record)."""
    import datasets
    import torch
    from sentence_transformers import SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers
    from transformers import EarlyStoppingCallback, PrinterCallback, set_seed

    from lex_dpr.models.static import cache_tokenization
    from lex_dpr.training import callbacks as cb
    from lex_dpr.training.progress import RichProgress
    from lex_dpr.training.trainer import LexDprTrainer

    t = cfg.trainer
    set_seed(t.seed)
    datasets.disable_progress_bars()  # per-evaluation hashing bars; the rich bar shows progress
    start = time.perf_counter()

    model, meta = _build_model(cfg, corpus, train_pairs, checkpoint)
    n_neg, ratio = cfg.data.hard_negatives, cfg.data.hard_negative_ratio
    extra = pseudo_queries(corpus, cfg.data.pseudo_per_article, t.seed) if cfg.data.pseudo_queries else None
    examples = build_examples(train_pairs, corpus, n_neg, cfg.data.multiply, t.seed, extra, hard_ratio=ratio)
    train_ds = datasets.Dataset.from_dict(examples.columns)
    eval_ds = evaluator = None
    if valid_pairs:
        eval_ds = datasets.Dataset.from_dict(
            build_examples(valid_pairs, corpus, n_neg, 1, t.seed, hard_ratio=ratio).columns)
        evaluator = ir_evaluator(valid_pairs, corpus, cfg)

    loss = _loss(cfg, model, n_neg)
    cuda = torch.cuda.is_available()
    if cfg.trainer.gradient_checkpointing and meta.kind == "transformer":
        model[0].auto_model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    eval_every = "steps" if t.eval_steps else "epoch"
    prompts = {"query": meta.query_prompt} if meta.query_prompt else {}
    if meta.passage_prompt:
        prompts |= {c: meta.passage_prompt for c in examples.columns if c not in ("query", "label")}
    wandb_run = _start_wandb(cfg, run_dir) if main else None
    args = SentenceTransformerTrainingArguments(
        output_dir=str(run_dir), num_train_epochs=t.epochs, max_steps=t.max_steps,
        per_device_train_batch_size=t.batch_size, per_device_eval_batch_size=t.batch_size,
        learning_rate=t.lr, weight_decay=t.weight_decay, warmup_steps=t.warmup_ratio,
        gradient_accumulation_steps=t.gradient_accumulation_steps, max_grad_norm=t.max_grad_norm,
        seed=t.seed, data_seed=t.seed, batch_sampler=BatchSamplers.NO_DUPLICATES_HASHED,
        eval_strategy=eval_every if evaluator else "no", eval_steps=t.eval_steps or None,
        save_strategy=eval_every, save_steps=t.eval_steps or None,
        save_total_limit=t.save_total_limit, load_best_model_at_end=evaluator is not None,
        metric_for_best_model=trainer_metric_key(cfg.eval.metric) if evaluator else None, greater_is_better=True,
        logging_steps=t.logging_steps, logging_first_step=True, report_to=["wandb"] if wandb_run else [],
        run_name=run_dir.parent.name, use_cpu=not cuda, **_precision(t.precision, cuda), prompts=prompts or None,
        disable_tqdm=True, dataloader_drop_last=False, logging_nan_inf_filter=False,  # a NaN loss must reach NanGuard
    )
    metrics_file = cb.MetricsFile(run_dir / METRICS_FILE)
    guard = cb.NanGuard()
    sample_q = [p["query_text"] for p in (valid_pairs or train_pairs)[:64]]
    health = cb.HealthCheck(sample_q, corpus.texts[:: max(1, len(corpus) // 256)][:256], metrics_file)
    callbacks = [metrics_file, guard, health]
    if show_progress and main:
        callbacks.append(RichProgress())
    if evaluator is not None and t.early_stopping_patience > 0:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=t.early_stopping_patience,
                                               early_stopping_threshold=t.early_stopping_threshold))
    trainer = LexDprTrainer(model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds, loss=loss,
                            evaluator=evaluator, callbacks=callbacks, metadata=meta)
    trainer.remove_callback(PrinterCallback)  # metrics go to metrics.jsonl and the progress bar, not stdout
    original_tokenizer = cache_tokenization(model)
    try:
        output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    finally:
        if wandb_run is not None:
            wandb_run.finish()
        if original_tokenizer is not None:
            model[0].tokenizer = original_tokenizer
    if guard.bad_step is not None:
        good = [c for c in checkpoints(run_dir) if checkpoint_step(c) < guard.bad_step]
        keep = f"; last good checkpoint: {good[-1]}" if good else ""
        raise TrainingError(f"loss became NaN/inf at step {guard.bad_step}{keep}. "
                            f"Lower trainer.lr (now {t.lr}) or raise trainer.temperature.")

    final_dir = run_dir / "final"
    if not main:  # rank 0 saves, measures and records
        return TrainResult(run_dir, final_dir, _best_eval_metrics(trainer.state), trainer.state.global_step,
                           len(train_ds), round(time.perf_counter() - start, 2),
                           round(output.metrics.get("train_samples_per_second", 0.0), 2), False, 0.0, 0.0)
    _save_atomically(model, final_dir, meta)
    metrics = _best_eval_metrics(trainer.state)
    health.on_evaluate(args, trainer.state, None, model=model)
    if health.last.collapsed:
        log.warning("final model: %s", health.last.message())
    wall = time.perf_counter() - start
    steps = trainer.state.global_step
    per_s = output.metrics.get("train_samples_per_second", 0.0)
    result = TrainResult(run_dir, final_dir, metrics, steps, len(train_ds), round(wall, 2), round(per_s, 2),
                         health.last.collapsed, health.last.score_std, health.last.mean_pairwise_cos)
    write_record(run_dir, RunStatus.FINISHED, extra={"result": result.to_dict(), "health": health.last.to_dict()})
    return result


def _best_eval_metrics(state) -> dict[str, float]:
    """The IR metrics logged for the model in final/ (the best checkpoint), without evaluating again."""
    from lex_dpr.training.callbacks import metric_key

    evals = [e for e in state.log_history if any(k.startswith("eval_valid_") for k in e)]
    if not evals:
        return {}
    best = state.best_model_checkpoint
    step = checkpoint_step(Path(best)) if best else evals[-1]["step"]
    entry = next((e for e in evals if e["step"] == step), evals[-1])
    return {metric_key(k): v for k, v in entry.items() if k.startswith("eval_valid_")}


def trainer_metric_key(metric: str) -> str:
    """``ndcg_at_10`` → ``eval_valid_cosine_ndcg@10`` (the key the trainer uses for early stopping)."""
    name, _, k = metric.rpartition("_at_")
    if not name or not k.isdigit():
        raise ConfigError(f"eval.metric '{metric}' must look like ndcg_at_10, recall_at_5, mrr_at_10 or map_at_100")
    return f"eval_valid_cosine_{ {'hit': 'accuracy'}.get(name, name)}@{k}"


def ir_evaluator(valid_pairs: list[dict], corpus: Corpus, cfg: TrainConfig):
    """sentence-transformers' InformationRetrievalEvaluator over the full corpus (or a sub-corpus)."""
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    queries = {p["query_id"]: p["query_text"] for p in valid_pairs}
    relevant = {p["query_id"]: set(p["positive_passages"]) for p in valid_pairs}
    if cfg.data.val_negatives > 0:
        keep = {pid for p in valid_pairs for pid in p["positive_passages"]}
        keep |= {n for p in valid_pairs for n in (p.get("hard_negatives") or [])[: cfg.data.val_negatives]}
        docs = {pid: corpus.texts[corpus.index[pid]] for pid in sorted(keep) if pid in corpus.index}
    else:
        docs = dict(zip(corpus.ids, corpus.texts, strict=True))
    k = sorted(set(cfg.eval.k_values) | {1, 3, 5, 10})
    return InformationRetrievalEvaluator(
        queries, docs, relevant, name="valid", mrr_at_k=[10], ndcg_at_k=sorted({10, *k}), accuracy_at_k=k,
        precision_recall_at_k=k, map_at_k=[100], batch_size=cfg.eval.batch_size, write_csv=False,
        query_prompt_name="query", corpus_prompt_name="document", main_score_function="cosine",
    )


# Keys that may differ on --resume without changing what is trained.
_RESUME_FREE = ("wandb.", "trainer.logging_steps", "eval.batch_size", "trainer.save_total_limit", "out_dir")


def resume_changes(run_dir: Path, cfg: TrainConfig, inputs: dict[str, str | None]) -> list[str]:
    """What differs between the recorded run and this one: config keys (old → new) and input files (sha256)."""
    from lex_dpr.utils.config import flatten
    from lex_dpr.utils.io import sha256_file

    record = read_record(run_dir)
    before, now = flatten(record.get("config") or {}), flatten(cfg.to_dict())
    changes = [f"{k}: {before.get(k)!r} → {now.get(k)!r}" for k in sorted(set(before) | set(now))
               if before.get(k) != now.get(k) and not k.startswith(_RESUME_FREE)]
    for name, entry in (record.get("inputs") or {}).items():
        path = inputs.get(name)
        if not path or not Path(path).is_file():
            changes.append(f"{name}: {entry.get('path')} is no longer given")
        elif sha256_file(path) != entry.get("sha256"):
            changes.append(f"{name}: {path} differs from the file the run started with (sha256)")
    return changes


def _check_run_dir(run_dir: Path, resume: bool) -> Path | None:
    from lex_dpr.training.trainer import STAGING

    shutil.rmtree(run_dir / STAGING, ignore_errors=True)  # a checkpoint a kill cut short: never renamed in
    saved = checkpoints(run_dir)
    for cut in sorted(set(checkpoints(run_dir, complete=False)) - set(saved)):
        log.warning("%s: incomplete checkpoint (no readable trainer_state.json); skipped", cut)
    if resume:
        if (run_dir / "final").is_dir():
            raise TrainingError(f"{run_dir} already finished (final/ exists); nothing to resume")
        if not saved:
            raise TrainingError(f"{run_dir}: no checkpoint to resume from; run without --resume")
        _truncate_metrics(run_dir / METRICS_FILE, checkpoint_step(saved[-1]))
        return saved[-1]
    if saved or (run_dir / "final").is_dir():
        raise TrainingError(f"{run_dir} already holds a run; pass --resume to continue it or choose another "
                            "--out-dir")
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / METRICS_FILE).unlink(missing_ok=True)
    return None


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop metric lines logged after the checkpoint we resume from; they will be logged again."""
    import orjson

    if not path.is_file():
        return
    keep = []
    for line in path.read_bytes().splitlines():
        try:
            if orjson.loads(line).get("step", 0) <= step:
                keep.append(line)
        except orjson.JSONDecodeError:
            continue  # a line cut by the interruption
    with atomic_open(path) as fh:
        fh.write(b"".join(line + b"\n" for line in keep))


def _build_model(cfg: TrainConfig, corpus: Corpus, pairs: list[dict], checkpoint: Path | None):
    from sentence_transformers import SentenceTransformer

    from lex_dpr.models.loading import set_prompts
    from lex_dpr.models.lora import add_lora
    from lex_dpr.models.registry import resolve
    from lex_dpr.models.static import build_static_model

    spec = resolve(cfg.model)
    adapter = False
    if spec.source is None:
        if checkpoint:  # the vocabulary lives in the checkpoint; never retrain it on resume
            model = SentenceTransformer(str(checkpoint), device="cpu")
        else:
            texts = corpus.texts + [p["query_text"] for p in pairs]
            model = build_static_model(texts, cfg.model.vocab_size, cfg.model.embedding_dim, spec.max_seq_length,
                                       cfg.trainer.seed)
        architecture = "StaticEmbedding"
    else:
        from lex_dpr.models.loading import load_encoder

        model = load_encoder(spec.source, trust_remote_code=cfg.model.trust_remote_code)
        if not isinstance(model, SentenceTransformer):
            raise ConfigError(f"model.name={cfg.model.name}: an ensemble cannot be fine-tuned; pick one member")
        model.max_seq_length = spec.max_seq_length
        architecture = type(model[0].auto_model).__name__ if hasattr(model[0], "auto_model") else type(model[0]).__name__
        if cfg.lora.enabled:
            add_lora(model, cfg.lora)
            adapter = True
    set_prompts(model, spec.query_prompt, spec.passage_prompt)
    meta = ModelMetadata(kind="static" if spec.source is None else "transformer", architecture=architecture,
                         base_model=spec.source, adapter=adapter, query_prompt=spec.query_prompt,
                         passage_prompt=spec.passage_prompt, max_seq_length=spec.max_seq_length,
                         embedding_dim=model.get_embedding_dimension())
    return model, meta


def _loss(cfg: TrainConfig, model, n_negatives: int):
    from sentence_transformers.sentence_transformer.losses import CachedMultipleNegativesRankingLoss

    from lex_dpr.training.losses import MaskedMultipleNegativesRankingLoss

    t = cfg.trainer
    scale = 1.0 / t.temperature
    static = cfg.model.name == "static"
    if not static and t.batch_size > t.cached_batch_threshold:
        if t.mask_false_negatives:
            log.warning("batch %d > trainer.cached_batch_threshold: using CachedMNRL, which cannot mask "
                        "false negatives", t.batch_size)
        return CachedMultipleNegativesRankingLoss(model, scale=scale, mini_batch_size=t.mini_batch_size)
    return MaskedMultipleNegativesRankingLoss(model, scale=scale, n_negatives=n_negatives,
                                              mask=t.mask_false_negatives)


def _precision(precision: Precision, cuda: bool) -> dict[str, bool]:
    if precision == Precision.AUTO:
        if not cuda:
            return {}
        import torch

        return {"bf16": True} if torch.cuda.is_bf16_supported() else {"fp16": True}
    if precision != Precision.FP32 and not cuda:
        raise ConfigError(f"trainer.precision={precision.value} needs a CUDA GPU; use auto or fp32 on CPU")
    return {precision.value: True} if precision != Precision.FP32 else {}


def _start_wandb(cfg: TrainConfig, run_dir: Path):
    """A W&B run with this config's mode, project and group, or None when ``wandb.mode=disabled``.

    Settings go to ``wandb.init`` directly, never through environment variables, so trainings (sweep
    trials) in one process do not inherit each other's settings. The Trainer's W&B callback logs into
    this run because it exists already.
    """
    if cfg.wandb.mode == WandbMode.DISABLED:
        return None
    import wandb

    return wandb.init(mode=cfg.wandb.mode.value, project=cfg.wandb.project, group=cfg.wandb.group,
                      name=run_dir.parent.name, dir=cfg.wandb.dir or None, config=cfg.to_dict(),
                      reinit="finish_previous", settings=wandb.Settings(silent=True, console="off"))


def _save_atomically(model, final_dir: Path, meta: ModelMetadata) -> None:
    with staged_folder(final_dir) as tmp:
        model.save(str(tmp))
        write_metadata(tmp, meta)
