"""`lex-dpr train` under ``torchrun`` or ``accelerate launch``: one run folder, written by rank 0.

The launchers set ``RANK`` and ``WORLD_SIZE``; the trainer (through accelerate) runs data-parallel on them.
Rank 0 locks the run folder, checks it (``--resume`` included), writes the record, the metrics, checkpoints
and ``final/``; every other rank trains on its share of each batch and writes nothing there but its own RNG
state into each checkpoint, after rank 0 committed it. Rank 0 tells the others how to start (from which
checkpoint), or that it could not, so a refused run ends on every rank instead of hanging at the first
collective.

Example:
    >>> world({"RANK": "1", "WORLD_SIZE": "2"})
    (1, 2)
    >>> world({})
    (0, 1)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from lex_dpr.errors import LexDprError


class FollowerStopped(LexDprError):
    """Rank 0 could not start the run; it prints why."""


def world(env: Mapping[str, str] | None = None) -> tuple[int, int]:
    """(this process's rank, how many processes train together), from the launcher's environment."""
    env = os.environ if env is None else env
    return int(env.get("RANK", "0") or 0), int(env.get("WORLD_SIZE", "1") or 1)


def start() -> None:
    """Join the process group the launcher prepared (gloo on CPU, NCCL on CUDA), as the trainer would."""
    from accelerate import PartialState

    PartialState()


def share(value: Any = None, error: BaseException | None = None) -> Any:
    """Rank 0 sends ``value`` (or that it failed) to every rank; the others receive it. One process: ``value``."""
    rank, size = world()
    if size == 1:
        return value
    import torch.distributed as dist

    box = [{"value": value, "error": None if error is None else f"{type(error).__name__}: {error}"}]
    dist.broadcast_object_list(box, src=0)
    message = box[0]
    if rank != 0 and message["error"] is not None:
        raise FollowerStopped(f"rank {rank}: rank 0 did not start the run ({message['error']})")
    return message["value"]


def barrier() -> None:
    if world()[1] > 1:
        import torch.distributed as dist

        dist.barrier()
