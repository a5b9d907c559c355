"""``pat train --nproc-per-node N``: the same training as N ranks, started by torchrun.

The launcher is PyTorch's own, ``torch.distributed.run`` (torchrun): the rendezvous of the
nodes, one ``python -m pat_cli train ...`` per rank with ``RANK``, ``LOCAL_RANK`` and
``WORLD_SIZE`` set (this command's arguments, less the launch options), Ctrl-C and SIGTERM
passed on to every rank, and the other ranks stopped when one dies. pat adds what a run
needs: rank 0 names the run it writes (:mod:`pat_cli._ranks`), and a rank that died ends that
run as FAILED, tagged with the rank (:data:`FAILED_RANK_TAG`), in one line.

Imported only inside command bodies (the options at the top are light).
"""

from __future__ import annotations

import logging
import os
import re
import signal
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pat_cli._errors import DOMAIN_ERROR, bad_option, fail
from pat_cli._options import WholeNumber

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

FAILED_RANK_TAG = "pat.failed_rank"
"""On a run a rank's death ended: the global rank that died first."""
SHUTDOWN_SECONDS = "120"
"""How long torchrun lets the ranks end after Ctrl-C/SIGTERM (rank 0 stores what is tracked)."""
_NNODES = re.compile(r"[1-9]\d*(:[1-9]\d*)?")
_RDZV_BACKENDS = ("c10d", "static", "etcd", "etcd-v2")

NprocPerNode = Annotated[
    int | None,
    typer.Option(
        "--nproc-per-node",
        help="Ranks on this node, started by torch.distributed.run (torchrun): each trains "
        "on cuda:LOCAL_RANK (gloo ranks on the CPU), rank 0 writes the one MLflow run.",
        show_default=False,
        metavar="<N>",
        parser=WholeNumber("--nproc-per-node", 1, 2),
    ),
]
Nnodes = Annotated[
    str | None,
    typer.Option(
        "--nnodes",
        metavar="<N|MIN:MAX>",
        help="Nodes taking part (torchrun's --nnodes). Default: 1.",
        show_default=False,
    ),
]
NodeRank = Annotated[
    int | None,
    typer.Option(
        "--node-rank",
        help="This node's rank, with --rdzv-backend static (torchrun's --node-rank).",
        show_default=False,
        parser=WholeNumber("--node-rank", 0, 1),
    ),
]
RdzvEndpoint = Annotated[
    str | None,
    typer.Option(
        "--rdzv-endpoint",
        metavar="<host[:port]>",
        help="Where the nodes meet (torchrun's --rdzv-endpoint), e.g. node0:29400.",
        show_default=False,
    ),
]
RdzvBackend = Annotated[
    str | None,
    typer.Option(
        "--rdzv-backend",
        metavar="<name>",
        help="Rendezvous backend: c10d (default), static or etcd (torchrun's --rdzv-backend).",
        show_default=False,
    ),
]
RdzvId = Annotated[
    str | None,
    typer.Option(
        "--rdzv-id",
        metavar="<id>",
        help="A job id the same on every node (torchrun's --rdzv-id).",
        show_default=False,
    ),
]


@dataclass(frozen=True)
class Launch:
    """The launch options of ``pat train`` (None: not given)."""

    nproc_per_node: int | None = None
    nnodes: str | None = None
    node_rank: int | None = None
    rdzv_endpoint: str | None = None
    rdzv_backend: str | None = None
    rdzv_id: str | None = None

    @property
    def requested(self) -> bool:
        """Whether more than one rank is asked for (one node with one rank: no launcher)."""
        several_nodes = self.nnodes is not None and self.nnodes not in ("1", "1:1")
        return (self.nproc_per_node or 1) > 1 or several_nodes

    def check(self) -> None:
        """Exit 2 on a bad value, naming it."""
        if self.nnodes is not None and not _NNODES.fullmatch(self.nnodes):
            bad_option("--nnodes", self.nnodes, "N or MIN:MAX nodes, such as 2 or 1:4")
        if self.rdzv_backend is not None and self.rdzv_backend not in _RDZV_BACKENDS:
            bad_option("--rdzv-backend", self.rdzv_backend, "one of " + ", ".join(_RDZV_BACKENDS))

    def torchrun_args(self) -> list[str]:
        """The same options, as torchrun spells them."""
        given = {
            "--nproc-per-node": self.nproc_per_node,
            "--nnodes": self.nnodes,
            "--node-rank": self.node_rank,
            "--rdzv-endpoint": self.rdzv_endpoint,
            "--rdzv-backend": self.rdzv_backend,
            "--rdzv-id": self.rdzv_id,
        }
        return [
            part
            for name, value in given.items()
            if value is not None
            for part in (name, str(value))
        ]


LAUNCH_OPTIONS = (
    "--nproc-per-node",
    "--nnodes",
    "--node-rank",
    "--rdzv-endpoint",
    "--rdzv-backend",
    "--rdzv-id",
)


def rank_args(argv: Sequence[str]) -> list[str]:
    """``argv`` without the launch options: what each rank runs."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in LAUNCH_OPTIONS:
            skip = True
        elif not arg.startswith(tuple(f"{name}=" for name in LAUNCH_OPTIONS)):
            kept.append(arg)
    return kept


def start_ranks(
    options: Launch, tracking_uri: str, device: str | None, check_input: Callable[[], object]
) -> None:
    """When ``options`` ask for several ranks (and this process is not one): launch, exit.

    ``check_input`` exits on a bad option first, once, before any rank starts; so does a
    rank count above the GPUs of a CUDA ``device``. The ranks run this command's own
    arguments (``sys.argv``).
    """
    from pat_cli._ranks import launched
    from pat_cli._train_plan import device as checked_device

    if not options.requested or launched():
        return
    options.check()
    check_input()
    _fits_gpus(options.nproc_per_node or 1, checked_device(device))
    raise typer.Exit(launch(options, sys.argv[1:], tracking_uri))


def _fits_gpus(ranks: int, device: str) -> None:
    """One rank per GPU: more ranks than GPUs is exit 2 (NCCL refuses two ranks on one)."""
    if not device.startswith("cuda"):
        return
    import torch

    gpus = torch.cuda.device_count()
    if ranks > gpus:
        bad_option(
            "--nproc-per-node",
            ranks,
            f"at most {gpus}: one rank per GPU torch sees here (--device cpu: gloo ranks)",
        )


def launch(options: Launch, argv: Sequence[str], tracking_uri: str) -> int:
    """Run ``pat ARGV`` as the ranks ``options`` ask for; the exit code.

    ``argv``: this command's arguments (``train ...``). Ctrl-C and SIGTERM reach every rank
    (rank 0 ends the run as KILLED); a rank that dies ends the run as FAILED (exit 1).
    """
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    _quiet_torchrun()
    os.environ.setdefault("TORCH_ELASTIC_SHUTDOWN_TIMEOUT", SHUTDOWN_SECONDS)
    with tempfile.TemporaryDirectory(prefix="pat-launch-") as scratch:
        from pat_cli._ranks import RUN_FILE_VARIABLE, named_run

        run_file = Path(scratch) / "run.json"
        os.environ[RUN_FILE_VARIABLE] = str(run_file)
        args = get_args_parser().parse_args(
            [
                *options.torchrun_args(),
                "--max-restarts",
                "0",
                "--module",
                "pat_cli",
                *rank_args(argv),
            ]
        )
        try:
            run(args)  # type: ignore[no-untyped-call]
        except SignalException as stopped:
            return 128 + int(stopped.sigval)
        except ChildFailedError as error:
            _rank_died(error.failures, named_run(run_file), tracking_uri)
    return 0


def _rank_died(failures: dict[int, Any], run_id: str | None, tracking_uri: str) -> None:
    """End rank 0's run as FAILED naming the rank that died, and say so (exit 1)."""
    rank, failure = _culprit(failures)
    code = int(failure.exitcode)
    how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
    ended = ""
    if run_id is not None:
        ended = f"; MLflow run {run_id} ended as FAILED ({FAILED_RANK_TAG} = {rank})"
        try:
            _end_failed(run_id, tracking_uri, rank)
        except Exception as error:
            ended = f"; could not mark MLflow run {run_id} FAILED: {error}"
    fail(f"rank {rank} stopped ({how}), so every rank was stopped{ended}", code=DOMAIN_ERROR)


def _culprit(failures: dict[int, Any]) -> tuple[int, Any]:
    """The rank that failed first of its own, not one stopped after it.

    A rank killed by a signal (SIGKILL, SIGSEGV: the others then fail in their collectives)
    comes before one that exited with an error, and both before a rank torchrun stopped;
    then the earliest (torchrun's timestamps are whole seconds), then the lowest rank.
    """
    stopped = {-signal.SIGTERM, -signal.SIGINT, 128 + signal.SIGTERM, 128 + signal.SIGINT}

    def order(item: tuple[int, Any]) -> tuple[bool, bool, float, int]:
        rank, failure = item
        code = int(failure.exitcode)
        return (code in stopped, code >= 0, failure.timestamp, rank)

    return min(failures.items(), key=order)


def _end_failed(run_id: str, tracking_uri: str, rank: int) -> None:
    from pat_skrl_mlflow import open_store

    client = open_store(tracking_uri)
    client.set_tag(run_id, FAILED_RANK_TAG, str(rank))
    client.set_terminated(run_id, "FAILED")


def _quiet_torchrun() -> None:
    """Keep torchrun's own log off the screen: what happened to the ranks is said by pat.

    It would say OMP_NUM_THREADS, the signals it passes on and a dead rank's exit code.
    """
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("torch.distributed"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
