"""Evaluation over several processes (torchrun, accelerate launch) with torch.distributed.

Each rank evaluates its own shard of the samples with its own device, model copy and metric
encoders, and writes its samples' files and records as a single process does. Only small Python
objects travel between ranks (the lock's outcome, each rank's tally, the summary), over gloo
whatever the devices: the models never communicate.

The run folder's guarantees hold for the whole job (docs/results.md, "Several processes"):
rank 0 takes the folder's lock, checks and claims `run.json` and removes killed writers'
leftovers before any rank writes; the other ranks learn the outcome (or the error) from it and
only then start. Rank 0 holds the lock until every rank has finished and the summary is written,
so another eve-bench process still finds the folder in use. The summary is written once, by
rank 0, from the records on disk, so it is the same at any world size.
"""

from __future__ import annotations

import os
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, Sequence, TypeVar

from eve_bench.errors import RunError
from eve_bench.run.folder import RunFolder

T = TypeVar("T")


@dataclass(frozen=True)
class Ranks:
    """This process's place among the job's processes; one process is rank 0 of 1."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> "Ranks":
        """Read what torchrun and accelerate launch export (RANK, WORLD_SIZE, LOCAL_RANK)."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        rank = int(os.environ["RANK"])
        return cls(rank=rank, world_size=world, local_rank=int(os.environ.get("LOCAL_RANK", rank)))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def device(self, requested: str) -> str:
        """A bare accelerator name ("cuda") becomes this rank's own device ("cuda:<local rank>")."""
        if self.distributed and requested in ("cuda", "xpu", "npu"):
            return f"{requested}:{self.local_rank}"
        return requested

    def shard(self, items: Sequence[T]) -> list[T]:
        """Every world_size-th item from this rank's position: shards differ by at most one item."""
        return list(items[self.rank :: self.world_size])


@dataclass
class Tally:
    """What one rank did, for the summary (the values themselves are read from the records)."""

    keys: list[str] = field(default_factory=list)  # samples recorded by this rank in this run
    n_missing: int = 0
    n_model_calls: int = 0
    stopped: str | None = None
    error: str | None = None  # the exception that stopped this rank, if any


class Group:
    """The collectives a job needs; for one process they are the identity."""

    def __init__(self, ranks: Ranks, device: str) -> None:
        self.ranks = ranks
        self._group = None
        self._owned = False  # whether this object started the process group (accelerate may have)
        if not ranks.distributed:
            return
        import torch.distributed as dist

        if not dist.is_initialized():
            backend = "nccl" if device.startswith("cuda") else "gloo"
            if backend == "nccl":
                import torch

                torch.cuda.set_device(ranks.local_rank)
            dist.init_process_group(backend=backend)
            self._owned = True
        # Object collectives over gloo whatever the default backend: they carry a few kilobytes.
        self._group = dist.new_group(backend="gloo")

    def __enter__(self) -> "Group":
        return self

    def __exit__(self, *exc) -> None:
        if self._owned:
            import torch.distributed as dist

            dist.destroy_process_group()

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's `obj` on every rank."""
        if self._group is None:
            return obj
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src=0, group=self._group)
        return box[0]

    def gather(self, obj: Any) -> list:
        """Every rank's `obj`, in rank order, on every rank."""
        if self._group is None:
            return [obj]
        import torch.distributed as dist

        out = [None] * self.ranks.world_size
        dist.all_gather_object(out, obj, group=self._group)
        return out

    @contextmanager
    def claimed(self, folder: RunFolder, identity: dict, overwrite: bool):
        """The run folder locked and claimed for this job (rank 0 holds the lock throughout)."""
        with ExitStack() as stack:
            error = None
            if self.ranks.is_main:
                try:
                    stack.enter_context(folder.locked())
                    folder.claim(identity, overwrite)
                    folder.remove_leftovers()
                except RunError as e:
                    if not self.ranks.distributed:
                        raise
                    error = str(e)
            error = self.broadcast(error)
            if error is not None:
                raise RunError(error if self.ranks.is_main else f"rank 0 could not take --out: {error}")
            yield


def raise_rank_errors(tallies: list[Tally], ranks: Ranks, own: BaseException | None) -> None:
    """After the tallies are exchanged: this rank's own exception, else another rank's as a RunError."""
    if own is not None:
        raise own
    for rank, tally in enumerate(tallies):
        if tally.error:
            raise RunError(f"rank {rank} of {ranks.world_size} stopped with an error: {tally.error}; finished samples "
                           "are kept, and re-running the command resumes")
