"""Train as a rank other than 0 of ``pat train --nproc-per-node N``: the same agent, no run.

Rank 0 trains through :mod:`pat_cli._training` and writes the MLflow run. Every other rank
builds the same env (seeded ``seed + rank``) and agent, and is instrumented with
``aggregate_ranks``: at each window's end its values join rank 0's (pooled mean and std,
extremes over ranks), so what rank 0 logs holds every rank's episodes. It prints nothing but
errors: progress, the summary and the next commands are rank 0's.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from pat_cli import _ranks, _training
from pat_cli._console import console
from pat_cli._errors import DOMAIN_ERROR, fail

if TYPE_CHECKING:
    from pat_cli._train_plan import TrainPlan
    from pat_skrl_mlflow import ProcessClient


def train(plan: TrainPlan, writer: ProcessClient | None = None) -> int:
    """Train this rank: rank 0 (or a single process) as :func:`pat_cli._training.train`."""
    if _ranks.writes():
        return _training.train(plan, writer)
    return train_rank(plan)


def train_rank(plan: TrainPlan) -> int:
    """Train this rank (> 0) to the end; the exit code (0, or 130/143 when stopped)."""
    console.quiet = True
    _training.quiet_libraries()
    _training.cpu_threads(plan.device)
    from pat_cli._train_env import build_runner, make_env
    from pat_skrl_mlflow import instrument

    env = make_env(_training.env_spec(plan))
    runner = build_runner(env, plan.agent_cfg, source=plan.agent_cfg_source)
    _training._resume(runner, plan.checkpoint, resume=False)
    handle = instrument(
        runner.agent,
        interval=_training._interval_arg(plan),
        include=plan.include,
        exclude=plan.exclude,
        environment_info=("log",),
        step_offset=_ranks.share_step_offset(0),  # rank 0's, for a resumed run
        aggregate_ranks=True,
        log_config=False,
        log_checkpoints=False,
    )
    status, code = "FINISHED", 0
    try:
        with _training._sigterm_interrupts():
            runner.run()
    except _training.Terminated:
        status, code = "KILLED", _training.TERMINATED
    except KeyboardInterrupt:
        status, code = "KILLED", _training.INTERRUPTED
    except Exception as error:
        handle.close("FAILED")
        env.close()
        if os.environ.get(_training.TRACEBACK_VARIABLE):
            raise
        first = str(error).splitlines()[0] if str(error) else ""
        fail(
            f"rank {_ranks.rank()}: training failed: {type(error).__name__}: {first}",
            code=DOMAIN_ERROR,
        )
    handle.close(status)
    env.close()
    # as rank 0: skip the interpreter's teardown, whose freeing of torch's distributed
    # objects after the group ended aborted a rank now and then ("terminate called ...")
    _training._may_exit(status)
    return code
