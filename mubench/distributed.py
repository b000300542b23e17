"""Work shared over processes started by torchrun: the process group, the share of each rank, and the
gathering of per-item results to rank 0, which alone writes outputs.

Items (seeds, images) go to ranks round-robin, item i to rank i % world_size, and come back in their
original order, so a result computed per item does not depend on the number of processes.
"""

from __future__ import annotations

import atexit
import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from mubench.errors import MeasurementError, MubenchError

T = TypeVar("T")

# The commands that share their work over torchrun's ranks; every other one is refused under torchrun.
SHARDED_COMMANDS = ("sample", "fid", "fid-ref", "robustness", "train")


def under_torchrun() -> bool:
    """True in a process that torchrun (or another launcher setting its variables) started."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


@dataclass(frozen=True)
class World:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self, device: str) -> str:
        """``cuda`` becomes this process's own GPU, ``cuda:LOCAL_RANK``, when several processes run."""
        if self.world_size > 1 and device == "cuda":
            return f"cuda:{self.local_rank}"
        return device

    def share(self, items: Sequence[T]) -> list[T]:
        """This rank's items: every world_size-th, from its rank on."""
        return list(items[self.rank :: self.world_size])

    def gather(self, mine: list[T]) -> list[T]:
        """Every rank's ``share`` put back in the original order, on rank 0; [] on the other ranks."""
        parts = self.gather_values(mine)
        return interleave(parts) if self.is_main else []

    def gather_values(self, value: T) -> list[T]:
        """One value from each rank, in rank order, on rank 0; [] on the other ranks."""
        if self.world_size == 1:
            return [value]
        import torch.distributed as dist

        parts: list[Any] = [None] * self.world_size
        with _peer_errors():
            dist.gather_object(value, parts if self.is_main else None, dst=0)
        return parts if self.is_main else []

    def mean(self, value: Any) -> float:
        """The mean over the ranks of a one-element tensor (its own value without torchrun)."""
        if self.world_size == 1:
            return float(value.item())
        import torch.distributed as dist

        total = value.detach().clone().reshape(1)
        with _peer_errors():
            dist.all_reduce(total)
        return float(total.item()) / self.world_size

    def broadcast(self, value: T) -> T:
        """Rank 0's ``value`` on every rank."""
        if self.world_size == 1:
            return value
        import torch.distributed as dist

        box = [value]
        with _peer_errors():
            dist.broadcast_object_list(box, src=0)
        return box[0]

    def on_main(self, work: Callable[[], T]) -> T:
        """``work()`` done by rank 0 alone (a folder made, a file written); its result, or the mubench
        error it raised, on every rank, so that all ranks go on or stop together."""
        if self.world_size == 1:
            return work()
        outcome: tuple[Any, MubenchError | None] = (None, None)
        if self.is_main:
            try:
                outcome = (work(), None)
            except MubenchError as exc:
                outcome = (None, exc)
        result, error = self.broadcast(outcome)
        if error is not None:
            raise error
        return result


def interleave(parts: Sequence[Sequence[T]]) -> list[T]:
    """The items that :meth:`World.share` gave to ranks 0, 1, ... back in their original order."""
    total = sum(len(part) for part in parts)
    return [parts[i % len(parts)][i // len(parts)] for i in range(total)]


def launched() -> World:
    """This process's place as torchrun's variables give it (a world of one without them); the process
    group is not started."""
    if not under_torchrun():
        return World()
    env = os.environ
    return World(int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", 0)))


def is_main() -> bool:
    """False only in a process of rank 1 or more under torchrun: the one that reports and writes is 0."""
    return launched().is_main


def join(device: str = "cpu") -> World:
    """This process's place in the job: under torchrun, the process group is started on the first call
    (NCCL for CUDA, gloo for the CPU) and left when the process exits; without it, a world of one."""
    world = launched()
    if world.world_size == 1:
        return world
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        cuda = device.startswith("cuda")
        if cuda:
            torch.cuda.set_device(world.local_rank)
        dist.init_process_group("nccl" if cuda else "gloo")
        atexit.register(_leave)
    return world


def _leave() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


@contextlib.contextmanager
def _peer_errors() -> Iterator[None]:
    """A collective whose peer died (that rank prints its own error) becomes one line here."""
    try:
        yield
    except RuntimeError as exc:  # gloo and NCCL report a lost peer as RuntimeError subclasses
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise MeasurementError(f"another rank stopped, so this one stops too ({detail})") from None
