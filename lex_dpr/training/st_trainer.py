"""``LexDprTrainer``: sentence-transformers' ``SentenceTransformerTrainer``, with whole checkpoints and no worker
processes. The recipe that builds and runs it is :mod:`lex_dpr.training.train`; it overrides only
what the framework offers no other way to change:

- The stock trainer writes ``checkpoint-{step}/`` file by file, so a kill in the middle leaves a folder
  that looks like a checkpoint and breaks ``--resume``. Here it writes into ``.staging/``, adds lex-dpr's
  ``lexdpr_model.json``, and only then commits the folder into place
  (:func:`lex_dpr.utils.folders.commit_folder`: synced, then one rename or an atomic exchange), before old
  checkpoints are rotated away.
- The NO_DUPLICATES_HASHED sampler hashes the dataset with a pool of up to 8 processes (``datasets.map``);
  each forks the whole trainer (~650 MB), and a SIGTERM during hashing could leave them behind or hang
  the exit (`datasets.map` forks a pool even for ``num_proc=1``). Hashing runs in-process here: same hashes,
  same batches.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sentence_transformers import SentenceTransformerTrainer
from sentence_transformers.base.sampler import BatchSamplers, NoDuplicatesBatchSampler
from transformers.trainer_utils import rotate_checkpoints

from lex_dpr.models.metadata import ModelMetadata, write_metadata
from lex_dpr.utils.folders import commit_folder

STAGING = ".staging"
STATE_FILE = "trainer_state.json"


class LexDprTrainer(SentenceTransformerTrainer):
    """``SentenceTransformerTrainer`` whose checkpoints are renamed into place when complete.

    Args:
        metadata: written into every checkpoint as ``lexdpr_model.json`` (what the model is, how to load it).
    """

    def __init__(self, *args, metadata: ModelMetadata, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lexdpr_metadata = metadata

    def get_batch_sampler(self, dataset, batch_size, drop_last, valid_label_columns=None, generator=None, seed=0):
        if self.args.batch_sampler != BatchSamplers.NO_DUPLICATES_HASHED:
            return super().get_batch_sampler(dataset, batch_size, drop_last, valid_label_columns, generator, seed)
        sampler = NoDuplicatesBatchSampler(dataset, batch_size=batch_size, drop_last=drop_last,
                                           valid_label_columns=valid_label_columns, generator=generator, seed=seed,
                                           precompute_hashes=True, precompute_num_proc=1)
        # datasets' map forks a pool for any num_proc >= 1, even 1 (a SIGTERM while the parent waits on it hung
        # the exit: the evaluation loop hashes the eval set every time); None hashes in this process
        sampler.precompute_num_proc = None
        return sampler

    def _save_checkpoint(self, model, trial) -> None:
        from lex_dpr.training import distributed

        run_dir = Path(self._get_output_dir(trial=trial))
        name = f"checkpoint-{self.state.global_step}"
        rank, size = distributed.world()
        staging = run_dir / (STAGING if rank == 0 else f"{STAGING}-rank{rank}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        self._get_output_dir = lambda trial=None: str(staging)  # the stock method writes under this folder
        limit, self.args.save_total_limit = self.args.save_total_limit, None  # rotate after the rename, below
        try:
            super()._save_checkpoint(model, trial)
        finally:
            del self._get_output_dir
            self.args.save_total_limit = limit
        best = self.state.best_global_step
        if best and (best == self.state.global_step or (run_dir / f"checkpoint-{best}").is_dir()):
            self.state.best_model_checkpoint = str(run_dir / f"checkpoint-{best}")
        if rank != 0:  # after rank 0 committed the checkpoint: add this rank's RNG state to it, nothing else
            distributed.barrier()
            for rng in (staging / name).glob(f"rng_state_{rank}.pth"):
                shutil.move(str(rng), str(run_dir / name / rng.name))
            shutil.rmtree(staging, ignore_errors=True)
            distributed.barrier()
            return
        self.state.save_to_json(str(staging / name / STATE_FILE))  # with the final path of the best checkpoint
        write_metadata(staging / name, self.lexdpr_metadata)
        commit_folder(staging / name, run_dir / name)
        shutil.rmtree(staging, ignore_errors=True)
        distributed.barrier()  # the other ranks add their RNG states now
        distributed.barrier()
        rotate_checkpoints(output_dir=str(run_dir), save_total_limit=limit,
                           best_model_checkpoint=self.state.best_model_checkpoint, use_mtime=False)
