"""Training across processes with PyTorch's own engine: ``torchrun`` sets RANK / WORLD_SIZE /
LOCAL_RANK, we join the process group (gloo on CPU, nccl on GPU), and rank 0 alone writes files.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.distributed as dist


def launched_by_torchrun() -> bool:
    """True when the environment describes a process group of more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_distributed() -> bool:
    """Join the process group when launched by torchrun; returns whether training is distributed."""
    if not launched_by_torchrun():
        return False
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(local_rank())
        dist.init_process_group(backend=backend)
    return True


def is_distributed() -> bool:
    """True inside an initialised process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 when not distributed)."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """Number of processes (1 when not distributed)."""
    return dist.get_world_size() if is_distributed() else 1


def local_rank() -> int:
    """Rank within this machine, which picks the GPU."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_main_process() -> bool:
    """Only rank 0 writes the run folder and talks to the user."""
    return rank() == 0


def barrier() -> None:
    """Wait for every process (no-op when not distributed)."""
    if is_distributed():
        dist.barrier()


def all_reduce_sum(values: list[float], device: torch.device) -> list[float]:
    """Element-wise sums of ``values`` over all processes."""
    if not is_distributed():
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


@contextmanager
def main_process_first() -> Iterator[None]:
    """Rank 0 runs the block first (e.g. filling the feature cache), then the others (cache hits)."""
    if not is_main_process():
        barrier()
    yield
    if is_main_process():
        barrier()
