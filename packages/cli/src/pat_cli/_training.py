"""Run a validated :class:`~pat_cli._train_plan.TrainPlan`.

skrl's Runner, instrumented by pat-skrl-mlflow, with a progress bar, a summary and the next
commands.

Ctrl-C ends the run as KILLED after everything tracked so far is stored (or spooled, if
the store is unreachable); a second Ctrl-C while it ends spools what is unsent and exits
at once (130). SIGTERM (``kill``, SLURM's time limit) ends it the same way, saying so,
with exit code 143.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from pat_cli import _fast_exit, _ranks
from pat_cli._console import console, err_console
from pat_cli._errors import DOMAIN_ERROR, fail
from pat_cli._offline import check_store_or_offline, masked, open_run
from pat_cli._progress import TrainingProgress
from pat_cli._train_summary import (
    ENV_PREFIXES,
    REWARD_KEY,
    TrainOutcome,
    checkpoints_line,
    next_commands,
    summary_table,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import FrameType

    from pat_cli._train_env import EnvSpec
    from pat_cli._train_plan import TrainPlan
    from pat_skrl_mlflow import ProcessClient

PARENT_TAG = "pat.parent_run"
"""On a run warm-started from a checkpoint: the run the weights came from."""
"""Written into skrl's experiment directory: which MLflow run its checkpoints belong to."""
INTERRUPTED = 130
TERMINATED = 143  # 128 + SIGTERM
TRACEBACK_VARIABLE = "PAT_TRACEBACK"
"""Set it to see the traceback of a training that failed (pat shows one line otherwise)."""


def train(plan: TrainPlan, writer: ProcessClient | None = None) -> int:
    """Train; return the exit code (0 finished, 130 interrupted; failures raise).

    ``writer``: the run's store writer process (``_offline.store_writer``), else MLflow
    runs in this process.
    """
    quiet_libraries()
    console.quiet = plan.output != "rich"  # no banner, progress, table; errors: stderr
    threads = cpu_threads(plan.device)
    from pat_cli._train_env import build_runner, make_env
    from pat_skrl_mlflow import instrument

    offline, writer = _check_store(plan, writer)  # fails fast, unless the writer is starting
    env = make_env(env_spec(plan))
    runner = build_runner(env, plan.agent_cfg, source=plan.agent_cfg_source)
    source_run = _resume(runner, plan.checkpoint, plan.resume) or plan.checkpoint_run
    resume_run = source_run if plan.resume else None  # else a warm start: a new run
    if offline is None:
        offline, writer = _check_store(plan, writer, env)
    target = open_run(plan, runner.agent, resume_run, offline=offline, writer=writer)
    if source_run and not plan.resume:
        _warm_start(target, source_run, plan.checkpoint)
    if plan.source_run:
        from pat_cli._from_run import SOURCE_TAG
        from pat_skrl_mlflow import set_tags

        set_tags(target.run_id, {SOURCE_TAG: plan.source_run}, target.client)
    _record_run(plan, target, env)
    _ranks.name_run(target.run_id)  # for --nproc-per-node: ended FAILED if a rank dies
    experiment = _experiment_name(target)
    _announce(plan, threads, target, experiment, runner.agent)
    step_offset = _ranks.share_step_offset(_step_offset(target, resume_run, plan.checkpoint))
    try:
        handle = instrument(
            runner.agent,
            run=target,
            interval=_interval_arg(plan),
            include=plan.include,
            exclude=plan.exclude,
            task=plan.task.id,
            environment_info=("log",),
            step_offset=step_offset,
            aggregate_ranks=_ranks.world_size() > 1,
        )
    except BaseException:
        target.end("KILLED" if isinstance(sys.exc_info()[1], KeyboardInterrupt) else "FAILED")
        env.close()
        raise
    progress = TrainingProgress(console, total=plan.timesteps, description=plan.task.id)
    progress.hook(env)
    status, stopped_by = _run_trainer(runner, progress, handle, env, target.run_id)
    summary = handle.close(status)
    _close_tensorboard(runner.agent)
    env.close()
    outcome = _outcome(
        plan=plan,
        target=target,
        experiment=experiment,
        progress=progress,
        summary=summary,
        status=status,
        agent=runner.agent,
        step_offset=step_offset,
    )
    outcome.stopped_by = stopped_by
    if plan.log_model:
        outcome.model = _log_model(
            plan, target, runner.agent, status, offline=offline, writer=writer
        )
    code = _report(outcome, plan.output)  # the command ends the writer: every request answered
    _may_exit(status)  # the run is ended, its points stored, every file closed
    return code


def env_spec(plan: TrainPlan) -> EnvSpec:
    """The env this process (rank) trains on: its seed is the plan's plus the rank."""
    from pat_cli._train_env import EnvSpec

    return EnvSpec(
        plan.task,
        plan.num_envs,
        plan.device,
        _ranks.env_seed(plan.seed),
        plan.env_metrics,
        plan.env_overrides,
    )


def _may_exit(status: str) -> None:
    """Meet the other ranks after a finished training; the process may then exit at once."""
    _ranks.leave(status)
    _fast_exit.allow()


def _log_model(
    plan: TrainPlan,
    target: Any,
    agent: Any,
    status: str,
    *,
    offline: bool,
    writer: ProcessClient | None,
) -> str | None:
    """The trained policy as an MLflow model of the run (registered when asked); its URI.

    With the run's store writer process (an offline run has none) MLflow's half of the work
    runs there: this process never imports MLflow.
    """
    if status != "FINISHED" or offline:
        why = "the run is offline (sync it, then `pat model log`)" if offline else status
        err_console.print(f"The policy was not logged as a model: {why}.")
        return None
    from pat_skrl_mlflow import log_policy

    try:
        logged = log_policy(
            agent,
            target.run_id,
            tracking_uri=target.tracking_uri,
            register_as=plan.register_model,
            checkpoint=_latest_checkpoint(agent),
            agent_config=plan.agent_cfg,
            writer=writer,
        )
    except Exception as error:  # the run and its metrics are stored: say so, exit 0
        err_console.print(f"Could not log the policy as an MLflow model: {error}")
        return None
    return logged.uri


def _record_run(plan: TrainPlan, target: Any, env: Any) -> None:
    """What reproduces the run: its params and ``params/agent.yaml`` / ``params/env.yaml``."""
    from pat_cli._run_record import record_run

    record_run(plan, target, env)


def _run_trainer(
    runner: Any, progress: TrainingProgress, handle: Any, env: Any, run_id: str
) -> tuple[str, str]:
    """Run skrl's trainer: the run's status and what stopped it (``Ctrl-C``, ``SIGTERM``)."""
    try:
        with progress.running(), _sigterm_interrupts():
            runner.run()
    except Terminated:
        return "KILLED", "SIGTERM"
    except KeyboardInterrupt:
        return "KILLED", "Ctrl-C"
    except Exception as error:
        handle.close("FAILED")
        env.close()
        if os.environ.get(TRACEBACK_VARIABLE):
            raise
        fail(
            f"training failed after {progress.timestep:,} timesteps: "
            f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}",
            hint=f"MLflow run {run_id} ended as FAILED with what was tracked so far; "
            f"set {TRACEBACK_VARIABLE}=1 to see the traceback.",
            code=DOMAIN_ERROR,
        )
    return "FINISHED", ""


@overload
def _check_store(
    plan: TrainPlan, writer: ProcessClient | None
) -> tuple[bool | None, ProcessClient | None]: ...
@overload
def _check_store(
    plan: TrainPlan, writer: ProcessClient | None, env: Any
) -> tuple[bool, ProcessClient | None]: ...
def _check_store(
    plan: TrainPlan, writer: ProcessClient | None, env: Any = None
) -> tuple[bool | None, ProcessClient | None]:
    """Whether to train offline, and the writer process to use (none for an offline run).

    Exits when the store is unreachable and --offline-ok was not given (closing ``env``).
    Before the env exists (``env`` None) a writer still opening the store is not waited
    for: ``(None, writer)``, to be checked again once the env is built.
    """
    if env is None and writer is not None and not writer.check_answered():
        return None, writer
    try:
        offline = check_store_or_offline(plan.tracking_uri, plan.offline_ok, writer)
    except BaseException:
        if env is not None:
            env.close()
        raise
    if offline and writer is not None:
        writer.close()
        return True, None
    if writer is not None and plan.log_model:  # the writer imports torch.export, MLflow's
        writer.warm_up_policy_logging()  # flavour while this process starts the run and trains
    return offline, writer


def _announce(plan: TrainPlan, threads: str, target: Any, experiment: str, agent: Any) -> None:
    """Say what is trained, where, and which MLflow run it goes to."""
    if plan.task.requested != plan.task.id:
        console.print(
            f"{plan.task.requested} is called {plan.task.id} since Isaac Lab 3.0; "
            f"using {plan.task.id}.",
            highlight=False,
        )
    ranks = _ranks.world_size()
    envs = f"{plan.num_envs} envs x {ranks} ranks" if ranks > 1 else f"{plan.num_envs} envs"
    console.print(
        f"Training [bold]{plan.task.id}[/] with {plan.algorithm.upper()} on {plan.device}: "
        f"{envs} x {plan.timesteps:,} timesteps ({threads}), log interval "
        f"{_interval_text(plan, agent)}. MLflow run [bold]{target.run_id}[/] in experiment "
        f"{experiment!r} of {masked(target.tracking_uri)}",
        highlight=False,
        soft_wrap=True,
    )


def _close_tensorboard(agent: Any) -> None:
    """Flush and close skrl's TensorBoard writer (skrl never closes it itself)."""
    writer = getattr(agent, "writer", None)
    if writer is None:
        return
    try:
        writer.close()
    except Exception as error:
        err_console.print(f"Could not close skrl's TensorBoard writer: {error}")


def _report(outcome: TrainOutcome, output: str = "rich") -> int:
    """Print the summary and the next commands; returns the exit code."""
    if output == "json":
        import dataclasses

        document = {**dataclasses.asdict(outcome), "next_commands": next_commands(outcome)}
        sys.stdout.write(json.dumps(document, indent=1, default=str) + "\n")
        sys.stdout.flush()
    if output != "rich":
        return _exit_code(outcome)
    console.print(summary_table(outcome))
    # a line of its own: a path folded inside the table could not be pasted
    console.print(
        f"Checkpoints: {checkpoints_line(outcome.checkpoint)}", highlight=False, soft_wrap=True
    )
    if outcome.model:
        console.print(f"Model: {outcome.model}", highlight=False, soft_wrap=True)
    console.print("Next:", style="bold")
    for command in next_commands(outcome):
        console.print(f"  {command}", highlight=False, soft_wrap=True)
    if outcome.status == "KILLED":
        kept = "stored or spooled" if outcome.points_waiting else "stored"
        how = "Terminated (SIGTERM)" if outcome.stopped_by == "SIGTERM" else "Interrupted"
        err_console.print(f"{how}: the run ended as KILLED; everything tracked was {kept}.")
    return _exit_code(outcome)


def _exit_code(outcome: TrainOutcome) -> int:
    if outcome.status != "KILLED":
        return 0
    return TERMINATED if outcome.stopped_by == "SIGTERM" else INTERRUPTED


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived while training: stop it like a Ctrl-C, then say which it was."""


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """While training, SIGTERM raises :class:`Terminated` in the training loop.

    The run then ends as after a Ctrl-C, and the summary and next commands are printed
    (SIGTERM's default killed the process with nothing said). A second SIGTERM while the
    run ends meets pat-skrl-mlflow's own handler again: it ends the run and exits.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, previous)
        raise Terminated

    previous = signal.signal(signal.SIGTERM, stop) or signal.SIG_DFL
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def quiet_libraries() -> None:
    """Keep library chatter (seeds, env setup, pat's own end summary) off the screen."""
    from pat_cli._quiet import quiet_setup

    for name in ("skrl", "mlflow", "pat_skrl_mlflow"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with quiet_setup():  # skrl initialises Warp on import when it is installed: a banner
        import skrl

    skrl.logger.setLevel(logging.WARNING)


def cpu_threads(device: str) -> str:
    """Use one torch CPU thread unless the user chose (``OMP_NUM_THREADS``).

    pat's small networks run several times faster that way on a busy machine, where a second
    intra-op thread keeps waiting for a core.
    """
    import torch

    if device == "cpu" and not os.environ.get("OMP_NUM_THREADS"):
        torch.set_num_threads(1)
    return f"{torch.get_num_threads()} torch CPU thread(s)"


def _interval_arg(plan: TrainPlan) -> str | int:
    interval = plan.log_interval
    return interval.every if interval.kind == "timesteps" and interval.every else interval.kind


def _interval_text(plan: TrainPlan, agent: Any) -> str:
    """When windows end, resolved for this agent: what will happen, not the option's name."""
    from pat_skrl_mlflow import log_every

    interval = plan.log_interval
    every = log_every(agent, interval, plan.timesteps)
    if interval.kind == "timesteps":
        return f"every {every} timesteps"
    if interval.kind != "rollout":
        return f"{interval.kind} (every {every} timesteps)"
    if plan.agent_cfg["agent"].get("rollouts"):
        return f"once per rollout (every {every} timesteps)"
    return (
        f"every {every} timesteps ({plan.algorithm.upper()} has no rollouts: skrl's "
        "write_interval, or 10 when that is off)"
    )


def _warm_start(target: Any, parent: str, checkpoint: Path | None) -> None:
    """Tag a warm-started run with the run its weights came from."""
    from pat_skrl_mlflow import set_tags

    set_tags(target.run_id, {PARENT_TAG: parent}, target.client)
    console.print(
        f"Warm start from {checkpoint} (run {parent}): a new run; --resume continues that one.",
        highlight=False,
        soft_wrap=True,
    )


def _resume(runner: Any, checkpoint: Path | None, resume: bool = True) -> str | None:
    """Load ``checkpoint`` into the agent; the run it belongs to (pat-skrl-mlflow's record).

    Its absence is said when the run was to be resumed (``resume``).
    """
    if checkpoint is None:
        return None
    from pat_skrl_mlflow import RUN_FILE, recorded_run

    try:
        runner.agent.load(str(checkpoint))
    except Exception as error:
        fail(
            f"invalid value for --checkpoint: {str(checkpoint)!r}; expected a checkpoint of this "
            f"agent ({type(error).__name__}: {str(error).splitlines()[0][:200]})",
        )
    run_id = recorded_run(checkpoint)
    if run_id is None and resume:
        err_console.print(
            f"No {RUN_FILE} next to {checkpoint}: the weights are loaded, metrics go to a new run."
        )
    return run_id


def _step_offset(target: Any, resume_run: str | None, checkpoint: Path | None) -> int:
    """Where a resumed run's steps continue (pat-skrl-mlflow's ``resume_step``).

    0 for a new run; a run is resumed from ``pat_run.json`` (``resume_run``) or ``MLFLOW_RUN_ID``.
    """
    if not (resume_run or os.environ.get("MLFLOW_RUN_ID")):
        return 0
    from pat_skrl_mlflow import resume_step

    offset = resume_step(target, checkpoint)
    if offset:
        console.print(f"Resuming: metrics continue after step {offset:,}.", highlight=False)
    return offset


def _experiment_name(target: Any) -> str:
    try:
        run = target.client.get_run(target.run_id)
        return str(target.client.get_experiment(run.info.experiment_id).name)
    except Exception:
        return "?"


def _outcome(
    *,
    plan: TrainPlan,
    target: Any,
    experiment: str,
    progress: TrainingProgress,
    summary: Any,
    status: str,
    agent: Any,
    step_offset: int = 0,
) -> TrainOutcome:
    outcome = TrainOutcome(
        status=status,
        task=plan.task.requested,
        algorithm=plan.algorithm.upper(),
        device=plan.device,
        num_envs=plan.num_envs,
        run_id=target.run_id,
        experiment=experiment,
        tracking_uri=masked(target.tracking_uri),
        timesteps_done=progress.timestep,
        timesteps_total=plan.timesteps,
        wall_seconds=progress.elapsed,
        points_logged=summary.points_logged,
        points_rejected=summary.points_rejected,
        points_filtered=summary.points_filtered,
        points_dropped=summary.points_dropped,
        points_failed=summary.points_failed,
        points_waiting=summary.points_waiting,
        spool=summary.spool,
        tags_filtered=tuple(summary.filtered_tags),
        rejections=dict(summary.rejections),
        unmatched=tuple(summary.unmatched),
        checkpoint=_latest_checkpoint(agent),
        world_size=_ranks.world_size(),
    )
    if summary.points_waiting:  # the store is unreachable: don't wait for it again
        return outcome
    try:
        latest = target.client.get_run(target.run_id).data.metrics
        history = target.client.get_metric_history(target.run_id, REWARD_KEY)
    except Exception as error:
        err_console.print(f"Could not read the run back from the store: {error}")
        return outcome
    outcome.keys_logged = len(latest)
    outcome.env_metrics = {k: v for k, v in latest.items() if k.startswith(ENV_PREFIXES)}
    history = [m for m in history if m.step > step_offset]  # resumed: this session's points
    if history:
        ordered = sorted(history, key=lambda m: (m.step, m.timestamp))
        outcome.reward_first, outcome.reward_last = ordered[0].value, ordered[-1].value
    return outcome


def _latest_checkpoint(agent: Any) -> Path | None:
    directory = getattr(agent, "experiment_dir", None)
    if not directory:
        return None
    found = []
    from pat_skrl_mlflow import checkpoint_timestep

    for path in (Path(directory) / "checkpoints").glob("agent_*.pt"):
        timestep = checkpoint_timestep(path)
        if timestep is not None:
            found.append((timestep, path))
    return max(found)[1] if found else None
