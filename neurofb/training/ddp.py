"""Distributed data parallel (``torchrun``) support: the same training code on 1..N processes.

Under ``torchrun`` the environment holds ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``;
:func:`setup` then joins the process group (NCCL on GPUs, gloo on CPUs). Without them everything
here is a no-op and training runs in one process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    """This process's place in the job."""

    size: int = 1
    rank: int = 0
    local_rank: int = 0


def setup() -> World:
    """Join the process group when launched by ``torchrun``; return this process's World."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    return World(size=size, rank=rank, local_rank=local)


def device(world: World) -> torch.device:
    """This process's device: its GPU (``LOCAL_RANK``) when CUDA is available, else the CPU."""
    if torch.cuda.is_available():
        torch.cuda.set_device(world.local_rank)
        return torch.device("cuda", world.local_rank)
    return torch.device("cpu")


def wrap(module: torch.nn.Module, world: World, dev: torch.device) -> torch.nn.Module:
    """Wrap in DistributedDataParallel when there is more than one process."""
    if world.size <= 1:
        return module
    from torch.nn.parallel import DistributedDataParallel

    ids = [dev.index] if dev.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids)


def mean(value: float, world: World, dev: torch.device) -> float:
    """Average a number over all processes (the number itself in a single process)."""
    if world.size <= 1:
        return float(value)
    t = torch.tensor([float(value)], dtype=torch.float64, device=dev)
    dist.all_reduce(t)
    return float(t.item()) / world.size


def teardown() -> None:
    """Leave the process group, if one was joined."""
    if dist.is_initialized():
        dist.destroy_process_group()
