"""Which training process this is, as the launcher says (torchrun, accelerate, deepspeed set ``RANK`` and
``WORLD_SIZE``; ``LOCAL_RANK`` alone stands in for ``RANK`` on one node)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel


class Ranks(BaseModel):
    """This process's rank among ``world_size`` training processes."""

    rank: int = 0
    world_size: int = 1

    @property
    def main(self) -> bool:
        """Whether this is the main process (rank 0)."""
        return self.rank == 0


def launch_ranks(env: Mapping[str, str] = os.environ) -> Ranks:
    """The rank and world size the launcher set (one process, rank 0, when it set none)."""
    return Ranks(rank=int(env.get("RANK", env.get("LOCAL_RANK", "0"))), world_size=int(env.get("WORLD_SIZE", "1")))
