"""This process as one rank of a ``pat train`` that ``torch.distributed.run`` started.

torchrun describes each rank with ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``. A rank trains
on ``cuda:LOCAL_RANK`` (as Isaac Lab's training scripts do), or on the CPU; global rank 0
writes the one MLflow run, the others only take part in combining each window.

The process group: skrl creates it itself when ``WORLD_SIZE > 1``, as the ``skrl`` package is
imported (``init_process_group("nccl")`` and ``torch.cuda.set_device(LOCAL_RANK)``). That is
what a GPU rank uses. NCCL needs GPUs, so for CPU ranks pat creates a gloo group first and
lets skrl's own two calls pass while ``skrl`` is imported: skrl still reads its ranks from
the environment and reduces its gradients through ``torch.distributed``, over gloo.

Imported only inside command bodies.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

RUN_FILE_VARIABLE = "PAT_LAUNCH_RUN_FILE"
"""Set by ``pat train --nproc-per-node``: the file where rank 0 names the run it writes."""
LAUNCHED_VARIABLE = "TORCHELASTIC_RUN_ID"
"""Set by ``torch.distributed.run`` in every process it starts."""


def world_size() -> int:
    """How many ranks train together (1: not distributed)."""
    from pat_skrl_mlflow import rank_info

    return rank_info().world_size


def rank() -> int:
    """This process's global rank (0 when not distributed)."""
    from pat_skrl_mlflow import rank_info

    return rank_info().rank


def writes() -> bool:
    """Whether this process writes the MLflow run (global rank 0, or not distributed)."""
    from pat_skrl_mlflow import rank_info

    return rank_info().is_writer


def launched() -> bool:
    """Whether ``torch.distributed.run`` started this process (it is a rank already)."""
    return bool(os.environ.get(LAUNCHED_VARIABLE))


def join(device: str | None) -> str | None:
    """Set this rank up before skrl is imported; the device it trains on.

    Not distributed: ``device`` as given (None: chosen later). A CUDA device (the default
    where torch sees one) becomes ``cuda:LOCAL_RANK`` and skrl creates the NCCL group; on
    the CPU pat creates a gloo group (see the module's doc).
    """
    if world_size() <= 1:
        return device
    from pat_cli._train_plan import device as checked

    device = checked(device)
    if device.startswith("cuda"):
        return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    import torch.distributed as dist

    if "skrl" not in sys.modules and not dist.is_initialized():
        dist.init_process_group("gloo")  # env:// — torchrun set MASTER_ADDR/PORT, RANK, ...
        from pat_cli._quiet import quiet_setup

        with quiet_setup(), _skrl_group_made():  # skrl logs its ranks at import: rank 0 says it
            import skrl  # noqa: F401 - its config reads the ranks now
    return device


@contextlib.contextmanager
def _skrl_group_made() -> Iterator[None]:
    """While skrl is imported: its NCCL group creation and CUDA device choice do nothing."""
    import torch
    import torch.distributed as dist

    saved = dist.init_process_group, torch.cuda.set_device

    def made(*args: Any, **kwargs: Any) -> None:
        return None

    dist.init_process_group, torch.cuda.set_device = made, made
    try:
        yield
    finally:
        dist.init_process_group, torch.cuda.set_device = saved


def env_seed(seed: int | None) -> int | None:
    """The env's seed on this rank: ``seed + rank`` (skrl adds the rank to its own seed too)."""
    return None if seed is None else seed + rank()


def share_step_offset(offset: int) -> int:
    """Rank 0's step offset on every rank (a collective), so all ranks end windows together.

    Rank 0 reads a resumed run's last step from the store; the other ranks cannot.
    """
    if world_size() <= 1:
        return offset
    import torch.distributed as dist

    shared: list[Any] = [offset]
    dist.broadcast_object_list(shared, src=0)
    return int(shared[0])


def name_run(run_id: str) -> None:
    """Tell ``pat train --nproc-per-node`` which run rank 0 writes (to end it if a rank dies)."""
    path = os.environ.get(RUN_FILE_VARIABLE)
    if path:
        Path(path).write_text(json.dumps({"run_id": run_id}))


def named_run(path: Path) -> str | None:
    """The run rank 0 named in ``path`` (None: it had not started one)."""
    try:
        return str(json.loads(path.read_text())["run_id"])
    except (OSError, ValueError, KeyError):
        return None


def leave(status: str) -> None:
    """After a finished training, meet the other ranks, then end the process group.

    After any other ``status`` the peers may be gone: the rank just exits. A gloo rank that
    tears its group down while a peer still uses it can be aborted.
    """
    if world_size() <= 1 or status != "FINISHED":
        return
    import torch.distributed as dist

    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
