"""torchrun's environment, read in one place.

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT in
every process it starts. The CLI reads them to know which rank speaks, the
settings to decide whether to run distributed, and lrfind.distributed to join
the job: all through `torchrun_env()`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from lrfind.errors import UsageError

TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class TorchrunEnv:
    """This process's place in a torchrun job (rank 0 of 1 when torchrun did not start it).

    Attributes:
        launched: every variable torchrun sets is there.
        missing: those that are not (for the error when --distributed is forced).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    launched: bool = False
    missing: tuple[str, ...] = TORCHRUN_VARS

    @property
    def speaks(self) -> bool:
        """Whether this process prints: rank 0 speaks for every rank.

        Outside a torchrun job (a RANK left exported, as some clusters do)
        the one process always speaks.
        """
        return self.rank == 0 or not self.launched

    def distributed(self, flag: bool | None) -> bool:
        """Whether to run as one rank of the job: --distributed/--no-distributed (None: not
        given, then when torchrun started this process).

        --no-distributed under a torchrun job of several processes is refused:
        each would run the same sweep alone, print it and write the same report
        over the others'. One sweep in one process is `lrfind run` without
        torchrun (or torchrun --nproc_per_node=1).
        """
        if flag and not self.launched:
            raise UsageError(
                f"--distributed, but {', '.join(self.missing)} not set: launch with "
                "'torchrun --nproc_per_node=N -m lrfind run ...'"
            )
        if flag is False and self.launched and self.world_size > 1:
            raise UsageError(
                f"--no-distributed under torchrun ({self.world_size} processes): each would "
                "run the same sweep alone and write the same report; for one process's sweep "
                "run 'lrfind run ...' without torchrun (or with --nproc_per_node=1), or drop "
                "--no-distributed to sweep with every rank (DDP)"
            )
        return self.launched if flag is None else flag


def torchrun_env(environ: Mapping[str, str] | None = None) -> TorchrunEnv:
    """Read torchrun's variables from `environ` (default: os.environ).

    >>> torchrun_env({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"}).rank
    1
    """
    env = os.environ if environ is None else environ
    missing = tuple(name for name in TORCHRUN_VARS if name not in env)
    return TorchrunEnv(
        rank=_int(env.get("RANK")),
        world_size=max(1, _int(env.get("WORLD_SIZE"), 1)),
        local_rank=_int(env.get("LOCAL_RANK")),
        launched=not missing,
        missing=missing,
    )


def _int(value: str | None, default: int = 0) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default
