"""One process or many: the rank, world size and device of this process, and the few
collectives the Trainer needs.

Under ``torchrun`` (``WORLD_SIZE`` > 1 in the environment) :func:`setup` joins the process
group: gloo on the CPU, NCCL on CUDA. Without it every helper here is the identity, so the
same code runs in one process without ``torch.distributed`` at all.
"""

import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..errors import InputError
from .runtime import select_device


@dataclass(frozen=True)
class Context:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        """Rank 0, the only process that writes files and reports progress."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def setup(device: str = "auto") -> Context:
    """This process's context; joins the process group when launched by ``torchrun``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Context(device=select_device(device))
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    chosen = select_device(device, local_rank)
    if not dist.is_initialized():
        if chosen.type == "cuda":
            torch.cuda.set_device(chosen)
        dist.init_process_group("nccl" if chosen.type == "cuda" else "gloo")
    if dist.get_world_size() != world:
        raise InputError(f"WORLD_SIZE={world} but the process group has {dist.get_world_size()}")
    return Context(rank=rank, world=world, device=chosen)


def teardown(synchronize: bool = False) -> None:
    """Leave the process group. ``synchronize`` first waits for every rank: a rank that tears
    down while another still works (rank 0 writing the report) could abort in gloo's threads."""
    if dist.is_initialized():
        # DDP's reducer sits in reference cycles; collect it while the group still exists, or
        # the interpreter frees its pending gloo work at exit and aborts ("terminate called
        # without an active exception").
        gc.collect()
        if synchronize:
            dist.barrier()
        dist.destroy_process_group()


def all_reduce(values: torch.Tensor, ctx: Context, op=dist.ReduceOp.SUM) -> torch.Tensor:
    """``values`` combined over all ranks (a copy; the identity in one process)."""
    if not ctx.distributed:
        return values.clone()
    out = values.to(ctx.device, copy=True)
    dist.all_reduce(out, op=op)
    return out.to(values.device)


def gather_objects(obj, ctx: Context) -> list:
    """Every rank's ``obj``, in rank order, on every rank."""
    if not ctx.distributed:
        return [obj]
    out = [None] * ctx.world
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj, ctx: Context):
    """Rank 0's ``obj`` on every rank."""
    if not ctx.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]
