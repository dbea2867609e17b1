"""The bi-encoder recipe, top to bottom: setup → train → save, the run folder held and recorded around it.

:func:`train` reads the data and calls :func:`train_model`, which holds the run folder and records the run
(:mod:`lex_dpr.training.run_folder`), then runs the phases in order:

1. **setup** (:func:`_setup`): seed, model (:func:`_setup_model`), training examples and the validation
   evaluator (:func:`_setup_data`, :mod:`lex_dpr.training.evaluator`), loss, W&B, training arguments
   (:func:`_training_arguments`: the best checkpoint by ``eval.metric``, named and directed by
   :class:`~lex_dpr.evaluation.metric_name.MetricName`), callbacks, and the trainer
   (:class:`~lex_dpr.training.st_trainer.LexDprTrainer`).
2. **train** (:func:`_fit`): ``trainer.train``, from the checkpoint a resume continues; its cleanup (W&B run
   finished, the tokenizer cache undone) runs however it ends, before anything is saved. A NaN loss then
   stops the run (:func:`_stop_on_nan`).
3. **save** (:func:`_save`): the best checkpoint into ``final/``, its health measured, the run recorded as
   finished.

Example:
    >>> from lex_dpr.training.config import load_config
    >>> cfg = load_config("configs/train.yaml", ["trainer.epochs=1", "out_dir=/tmp/lexdpr-doc"])  # doctest: +SKIP
    >>> result = train(cfg)  # doctest: +SKIP
    >>> result.metrics["eval/ndcg_at_10"]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lex_dpr.data.corpus import Corpus, read_corpus, read_pairs
from lex_dpr.errors import ConfigError
from lex_dpr.evaluation.metric_name import MetricName
from lex_dpr.models.metadata import ModelMetadata
from lex_dpr.models.run_folder import FINAL, RUN_SUBDIR
from lex_dpr.runs.record import METRICS_FILE, checkpoint_step, checkpoints
from lex_dpr.training.config import Precision, TrainConfig, WandbMode, resolve_data_paths
from lex_dpr.training.data import build_examples, pseudo_queries, read_extra_pairs
from lex_dpr.training.evaluator import best_metrics, ir_evaluator
from lex_dpr.training.run_folder import TrainingError, hold_run_folder, open_run, record_finished, record_outcome
from lex_dpr.training.run_folder import resume_changes as resume_changes  # its home is run_folder; kept importable here
from lex_dpr.training.run_folder import save_final

log = logging.getLogger(__name__)

__all__ = ["RUN_SUBDIR", "TrainResult", "TrainingError", "train", "train_model"]


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
    if rank != 0:  # a follower: starts where rank 0 says, trains its share, writes nothing but its RNG states
        return _run_recipe(cfg, corpus, train_pairs, valid_pairs, run_dir, distributed.share(), False, main=False)
    with hold_run_folder(run_dir):
        return _train_holding_run_folder(cfg, corpus, train_pairs, valid_pairs, run_dir, resume, show_progress,
                                         allow_changes)


def _train_holding_run_folder(cfg: TrainConfig, corpus: Corpus, train_pairs: list[dict], valid_pairs: list[dict],
                              run_dir: Path, resume: bool, show_progress: bool, allow_changes: bool) -> TrainResult:
    """Rank 0, while it holds the run folder: open the run (telling the other ranks where it starts, or that it
    cannot), run the recipe, and record how it ended."""
    from lex_dpr.training import distributed

    try:
        checkpoint = open_run(cfg, run_dir, resume, allow_changes)
    except BaseException as exc:
        distributed.share(error=exc)  # the other ranks stop too, instead of waiting at the first collective
        raise
    distributed.share(checkpoint)
    with record_outcome(run_dir):
        return _run_recipe(cfg, corpus, train_pairs, valid_pairs, run_dir, checkpoint, show_progress)


# --- the recipe ------------------------------------------------------------------------------------------


@dataclass
class _Setup:
    """What the setup phase built, for the train and save phases."""

    model: Any  # SentenceTransformer
    meta: ModelMetadata
    trainer: Any  # LexDprTrainer
    train_rows: int
    guard: Any  # callbacks.NanGuard
    health: Any  # callbacks.HealthCheck
    wandb_run: Any  # a W&B run, or None


def _run_recipe(cfg: TrainConfig, corpus: Corpus, train_pairs: list[dict], valid_pairs: list[dict], run_dir: Path,
                checkpoint: Path | None, show_progress: bool, main: bool = True) -> TrainResult:
    """setup → train → save; ``main`` is False on the ranks after the first (no W&B, no final save, no record)."""
    start = time.perf_counter()
    setup = _setup(cfg, corpus, train_pairs, valid_pairs, run_dir, checkpoint, show_progress, main)
    output = _fit(setup, checkpoint)
    _stop_on_nan(setup, run_dir, cfg)
    if not main:  # rank 0 saves, measures and records
        return TrainResult(run_dir, run_dir / FINAL, best_metrics(setup.trainer.state),
                           setup.trainer.state.global_step, setup.train_rows, round(time.perf_counter() - start, 2),
                           round(output.metrics.get("train_samples_per_second", 0.0), 2), False, 0.0, 0.0)
    return _save(setup, run_dir, output, start)


def _setup(cfg: TrainConfig, corpus: Corpus, train_pairs: list[dict], valid_pairs: list[dict], run_dir: Path,
           checkpoint: Path | None, show_progress: bool, main: bool) -> _Setup:
    import datasets
    from transformers import PrinterCallback, set_seed

    from lex_dpr.training.st_trainer import LexDprTrainer

    set_seed(cfg.trainer.seed)
    datasets.disable_progress_bars()  # per-evaluation hashing bars; the rich bar shows progress
    model, meta = _setup_model(cfg, corpus, train_pairs, checkpoint)
    train_ds, eval_ds, evaluator, columns = _setup_data(cfg, corpus, train_pairs, valid_pairs)
    loss = _setup_loss(cfg, model, cfg.data.hard_negatives)
    if cfg.trainer.gradient_checkpointing and meta.kind == "transformer":
        model[0].auto_model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    wandb_run = _start_wandb(cfg, run_dir) if main else None
    args = _training_arguments(cfg, run_dir, meta, columns, evaluator is not None, bool(wandb_run))
    guard, health, callbacks = _setup_callbacks(cfg, run_dir, corpus, valid_pairs or train_pairs,
                                                show_progress and main, evaluator is not None)
    trainer = LexDprTrainer(model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds, loss=loss,
                            evaluator=evaluator, callbacks=callbacks, metadata=meta)
    trainer.remove_callback(PrinterCallback)  # metrics go to metrics.jsonl and the progress bar, not stdout
    return _Setup(model, meta, trainer, len(train_ds), guard, health, wandb_run)


def _fit(setup: _Setup, checkpoint: Path | None) -> Any:
    """``trainer.train`` (from ``checkpoint`` on a resume); W&B is finished and the tokenizer restored however it
    ends, so that ``final/`` is saved with the model's own tokenizer."""
    from lex_dpr.models.static import cache_tokenization

    original_tokenizer = cache_tokenization(setup.model)
    try:
        return setup.trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    finally:
        if setup.wandb_run is not None:
            setup.wandb_run.finish()
        if original_tokenizer is not None:
            setup.model[0].tokenizer = original_tokenizer


def _stop_on_nan(setup: _Setup, run_dir: Path, cfg: TrainConfig) -> None:
    """A loss that became NaN/inf ends the run with the last good checkpoint named (none was saved after it)."""
    bad_step = setup.guard.bad_step
    if bad_step is None:
        return
    good = [c for c in checkpoints(run_dir) if checkpoint_step(c) < bad_step]
    keep = f"; last good checkpoint: {good[-1]}" if good else ""
    raise TrainingError(f"loss became NaN/inf at step {bad_step}{keep}. "
                        f"Lower trainer.lr (now {cfg.trainer.lr}) or raise trainer.temperature.")


def _save(setup: _Setup, run_dir: Path, output: Any, start: float) -> TrainResult:
    """The best checkpoint (loaded at the end of training) into final/, its health measured, the run finished."""
    model, trainer, health = setup.model, setup.trainer, setup.health
    final_dir = run_dir / FINAL
    save_final(model, final_dir, setup.meta)
    metrics = best_metrics(trainer.state)
    health.on_evaluate(trainer.args, trainer.state, None, model=model)
    if health.last.collapsed:
        log.warning("final model: %s", health.last.message())
    wall = time.perf_counter() - start
    per_s = output.metrics.get("train_samples_per_second", 0.0)
    result = TrainResult(run_dir, final_dir, metrics, trainer.state.global_step, setup.train_rows, round(wall, 2),
                         round(per_s, 2), health.last.collapsed, health.last.score_std, health.last.mean_pairwise_cos)
    record_finished(run_dir, result.to_dict(), health.last.to_dict())
    return result


# --- setup's parts ---------------------------------------------------------------------------------------


def _setup_model(cfg: TrainConfig, corpus: Corpus, pairs: list[dict], checkpoint: Path | None):
    """The model to train and its metadata: a static model built from the corpus, or a base encoder (with LoRA)."""
    from sentence_transformers import SentenceTransformer

    from lex_dpr.models.loading import set_prompts
    from lex_dpr.models.lora import add_lora
    from lex_dpr.data.tokenize import settings_key
    from lex_dpr.models.morphemes import TextForm, as_morphemes, read_morphemes
    from lex_dpr.models.registry import resolve, resolve_name
    from lex_dpr.models.static import build_static_model, distill_static_model

    spec = resolve(cfg.model)
    adapter = False
    teacher = resolve_name(cfg.model.teacher) if cfg.model.teacher else None
    memo: dict[str, str] = {}  # text → what a static model reading morphemes sees
    form = cfg.model.text_form if spec.source is None else TextForm.TEXT
    if spec.source is not None and cfg.model.text_form is not TextForm.TEXT:
        log.info("model.text_form=%s is for the static model: %s reads text", cfg.model.text_form.value,
                 cfg.model.name)
    if spec.source is None:
        if checkpoint:  # the vocabulary lives in the checkpoint; never retrain it on resume
            model = SentenceTransformer(str(checkpoint), device="cpu")
        elif teacher:
            log.info("distilling %s into the static model's token vectors (model2vec)", teacher)
            model = distill_static_model(teacher, cfg.model.embedding_dim, spec.max_seq_length,
                                         trust_remote_code=cfg.model.trust_remote_code)
            if model.get_embedding_dimension() < cfg.model.embedding_dim:
                log.warning("model.embedding_dim=%d is wider than the teacher %s: the static model has its %d",
                            cfg.model.embedding_dim, teacher, model.get_embedding_dimension())
        else:
            texts = corpus.texts + [p["query_text"] for p in pairs]
            if form is not TextForm.TEXT:  # the vocabulary is learnt over what the model will read
                _lend_morphemes(cfg, texts, memo)
                texts = as_morphemes(texts, memo, form)
            model = build_static_model(texts, cfg.model.vocab_size, cfg.model.embedding_dim, spec.max_seq_length,
                                       cfg.trainer.seed)
        read_morphemes(model, memo, form)
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
                         embedding_dim=model.get_embedding_dimension(), teacher=teacher,
                         text_form=form.value,
                         kiwi_settings=settings_key() if form is not TextForm.TEXT else None)
    return model, meta


def _lend_morphemes(cfg: TrainConfig, texts: list[str], memo: dict[str, str]) -> None:
    """The morphemes make-pairs already cached beside ``data.pairs`` (its ``.lexdpr_cache``, read only) go into the
    memo, so Kiwi reads only what it lacks (the shared data's 28,353 passages and queries: 66.2 s through Kiwi,
    1.3 s borrowed, the same strings)."""
    from lex_dpr.models.morphemes import remember
    from lex_dpr.retrieval.token_cache import CACHE_DIR, TokenCache

    folder = Path(cfg.data.pairs).parent / CACHE_DIR if cfg.data.pairs else None
    if folder is None or not folder.is_dir():
        return
    cache = TokenCache(folder)
    taken = remember(memo, texts, cache.get_many(texts))
    log.info("morphemes of %d of %d texts from %s", taken, len(texts), cache.path)


def _setup_data(cfg: TrainConfig, corpus: Corpus, train_pairs: list[dict], valid_pairs: list[dict]):
    """(training dataset, validation dataset or None, IR evaluator or None, the example columns)."""
    import datasets

    t, n_neg, ratio = cfg.trainer, cfg.data.hard_negatives, cfg.data.hard_negative_ratio
    extra = pseudo_queries(corpus, cfg.data.pseudo_per_article, t.seed) if cfg.data.pseudo_queries else None
    examples = build_examples(train_pairs, corpus, n_neg, cfg.data.multiply, t.seed, extra, hard_ratio=ratio,
                              max_per_positive=cfg.data.max_per_positive)
    train_ds = datasets.Dataset.from_dict(examples.columns)
    eval_ds = evaluator = None
    if valid_pairs:
        eval_ds = datasets.Dataset.from_dict(
            build_examples(valid_pairs, corpus, n_neg, 1, t.seed, hard_ratio=ratio).columns)
        evaluator = ir_evaluator(valid_pairs, corpus, cfg)
    return train_ds, eval_ds, evaluator, list(examples.columns)


def _setup_loss(cfg: TrainConfig, model, n_negatives: int):
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
                                              mask=t.mask_false_negatives, gather_across_devices=t.gather_across_devices)


def _training_arguments(cfg: TrainConfig, run_dir: Path, meta: ModelMetadata, columns: list[str],
                        evaluate: bool, to_wandb: bool):
    """The trainer's arguments; with a validation set, the best checkpoint (and early stopping) follow
    ``eval.metric``, under its trainer key and in its direction."""
    import torch
    from sentence_transformers import SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers

    t = cfg.trainer
    cuda = torch.cuda.is_available()
    eval_every = "steps" if t.eval_steps else "epoch"
    prompts = {"query": meta.query_prompt} if meta.query_prompt else {}
    if meta.passage_prompt:
        prompts |= {c: meta.passage_prompt for c in columns if c not in ("query", "label")}
    metric = MetricName.parse(cfg.eval.metric.value)
    return SentenceTransformerTrainingArguments(
        output_dir=str(run_dir), num_train_epochs=t.epochs, max_steps=t.max_steps,
        per_device_train_batch_size=t.batch_size, per_device_eval_batch_size=t.batch_size,
        learning_rate=t.lr, weight_decay=t.weight_decay, warmup_steps=t.warmup_ratio,
        gradient_accumulation_steps=t.gradient_accumulation_steps, max_grad_norm=t.max_grad_norm,
        seed=t.seed, data_seed=t.seed, batch_sampler=BatchSamplers.NO_DUPLICATES_HASHED,
        eval_strategy=eval_every if evaluate else "no", eval_steps=t.eval_steps or None,
        save_strategy=eval_every, save_steps=t.eval_steps or None,
        save_total_limit=t.save_total_limit, load_best_model_at_end=evaluate,
        metric_for_best_model=metric.trainer_key() if evaluate else None,
        greater_is_better=metric.greater_is_better,
        logging_steps=t.logging_steps, logging_first_step=True, report_to=["wandb"] if to_wandb else [],
        run_name=run_dir.parent.name, use_cpu=not cuda, **_precision(t.precision, cuda), prompts=prompts or None,
        disable_tqdm=True, dataloader_drop_last=False, logging_nan_inf_filter=False,  # a NaN loss must reach NanGuard
    )


def _setup_callbacks(cfg: TrainConfig, run_dir: Path, corpus: Corpus, sample_pairs: list[dict], progress: bool,
                     evaluate: bool) -> tuple[Any, Any, list[Any]]:
    """(NaN guard, health check, every callback): metrics.jsonl, the guard, the health check on a sample,
    the progress bar, early stopping."""
    from transformers import EarlyStoppingCallback

    from lex_dpr.training import callbacks as cb
    from lex_dpr.training.progress import RichProgress

    t = cfg.trainer
    metrics_file = cb.MetricsFile(run_dir / METRICS_FILE)
    guard = cb.NanGuard()
    sample_q = [p["query_text"] for p in sample_pairs[:64]]
    health = cb.HealthCheck(sample_q, corpus.texts[:: max(1, len(corpus) // 256)][:256], metrics_file)
    callbacks = [metrics_file, guard, health]
    if progress:
        callbacks.append(RichProgress(MetricName.parse(cfg.eval.metric.value)))
    if evaluate and t.early_stopping_patience > 0:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=t.early_stopping_patience,
                                               early_stopping_threshold=t.early_stopping_threshold))
    return guard, health, callbacks


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
