"""The public entry point: :func:`instrument`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pat_core import MetricFilter, parse_log_interval
from pat_skrl_mlflow._instrumentation import ATTRIBUTE, Instrumentation
from pat_skrl_mlflow.run_store import (
    RUN_FILE,
    RunTarget,
    recorded_run,
    resolve_run,
    resume_step,
    start_run,
)
from pat_skrl_mlflow.window import compile_extras, make_mapper, rank_info

if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Mapping, Sequence

__all__ = ["LAZY", "existing", "instrument"]

_log = logging.getLogger("pat_skrl_mlflow")
LAZY = "lazy"
"""``instrument(run="lazy")``: the run is resolved when the first window is logged."""


def instrument(
    agent: Any,
    *,
    interval: str | int = "rollout",
    include: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    extra_reducers: Mapping[str, Sequence[str]] | None = None,
    run: Any = "auto",
    experiment_name: str | None = None,
    run_name: str | None = None,
    tracking_uri: str | None = None,
    task: str | None = None,
    aliases: Mapping[str, str] | None = None,
    flatten_depth: int = 2,
    environment_info: str | Sequence[str] = ("episode", "log"),
    aggregate_ranks: bool = False,
    log_config: bool = True,
    log_checkpoints: bool = True,
    log_system_metrics: bool = False,
    episode_stats: bool = True,
    max_queue_points: int = 100_000,
    flush_timeout: float = 60.0,
    step_offset: int = 0,
    resume_from: str | os.PathLike[str] | None = None,
) -> Instrumentation:
    """Send every value a skrl agent tracks to MLflow.

    Call it after the agent exists (e.g. after ``Runner(env, cfg)``) and before
    training. Values are captured as skrl tracks them, reduced per logging window the
    way skrl's TensorBoard writer does (``(min)`` -> min, ``(max)`` -> max, else mean),
    named with MLflow-safe keys (``episode_reward_mean``, ``policy_loss``, ...) and sent
    from a background thread. skrl's own TensorBoard output is unchanged.

    Instrumenting an instrumented agent returns the existing handle.

    Args:
        agent: A skrl agent or multi-agent (skrl 1.4.x or 2.x, torch).
        interval: When MLflow is written, in trainer timesteps: ``"step"``,
            ``"balanced"`` (10), ``"rollout"`` (the agent's ``rollouts``; for agents
            without rollouts, skrl's TensorBoard ``write_interval``, else 10) or a
            positive whole number N. The MLflow step is the trainer timestep as skrl's
            TensorBoard numbers it; windows end on the multiples of N, and the last
            partial window is logged at the last timestep.
        include: Patterns of the metrics to log (exact names, globs or ``re:``
            regexes, matched against skrl tags and MLflow keys); None logs everything.
        exclude: Patterns of the metrics never to log.
        extra_reducers: Pattern -> extra statistics per window, e.g.
            ``{"Episode_Metrics/*": ["std", "p90"]}``, logged as ``<key>/<stat>``.
        run: ``"auto"`` (MLflow's active run, else a new or ``MLFLOW_RUN_ID`` run
            that pat ends), ``"lazy"`` (the same, decided when the first window is
            logged: a script may open its own run after instrumenting; windows logged
            before a run can be started wait in memory), ``"new"``, a run id or an
            MLflow ``Run``/``ActiveRun``; or
            None for capture only: no run, nothing sent, MLflow not even imported; the
            handle's ``tag_stats`` counts every tag's values (and ``summary()`` the
            windows, filtered and skipped tags) as if it were logging.
        experiment_name: Experiment of a run pat starts (default
            ``MLFLOW_EXPERIMENT_NAME`` or MLflow's default).
        run_name: Name of a run pat starts.
        tracking_uri: The store (default ``MLFLOW_TRACKING_URI`` or MLflow's default,
            ``sqlite:///mlflow.db``).
        task: The task name, set as the ``pat.task`` tag.
        aliases: Extra tag -> key names; they win over pat's skrl names.
        flatten_depth: Levels of nested dict values flattened into ``<key>/<name>``.
        environment_info: The ``infos`` entries the trainer copies (skrl's trainer
            ``environment_info``: ``"episode"`` by default, ``"log"`` in Isaac Lab);
            their values are counted once per refresh, not once per step.
        aggregate_ranks: In a distributed run, combine each window across ranks with
            ``torch.distributed`` before rank 0 logs it: the statistics of all ranks'
            values together (pooled mean and std, extremes, merged percentile sketches).
        log_config: Log the agent config as params and ``pat/agent_config.yaml``.
        log_checkpoints: Upload the agent's checkpoint directory at the end.
        log_system_metrics: MLflow's built-in system metrics, for a run pat starts.
        episode_stats: skrl records episode rewards and lengths only while its
            TensorBoard writer is on (``write_interval > 0``); when it is off, make skrl
            record them anyway (without writing TensorBoard) so they reach MLflow.
        max_queue_points: Bound of the sender's queue (the oldest points are dropped
            when the store cannot keep up; counted in the summary).
        flush_timeout: Seconds to wait for delivery at the end of training / close.
        step_offset: Added to every MLflow step, and windows end on ``step_offset``
            plus multiples of the interval: resuming a run from a checkpoint, pass the
            run's last logged step (or the checkpoint's timestep) so its metric
            histories continue after what is already stored (``resume_from`` does both).
        resume_from: The skrl checkpoint this training continues from (loading its weights
            stays the caller's: ``agent.load(path)``). The run pat logged that training to
            (``pat_run.json``, which pat writes into the agent's experiment directory) is
            resumed and, unless ``step_offset`` is given, steps continue after the later of
            the checkpoint's timestep and the run's last logged step. A checkpoint without
            that record starts a new run (warned about). Only with ``run="auto"``.

    Returns:
        The handle: a context manager with ``close()``/``remove()``, ``flush()``,
        ``summary()``, ``tag_table``, ``tag_stats`` and ``unmatched_patterns``.

    Raises:
        ValueError: For an invalid interval, filter pattern, reducer name, a
            negative ``step_offset``, or ``resume_from`` with another ``run`` than ``"auto"``.
    """
    found = existing(agent)
    if found is not None:
        return found
    if flatten_depth < 0:
        raise ValueError(f"flatten_depth must be >= 0, got {flatten_depth}")
    if isinstance(step_offset, bool) or not isinstance(step_offset, int) or step_offset < 0:
        raise ValueError(f"step_offset must be a whole number >= 0, got {step_offset!r}")
    metric_filter = MetricFilter(include, exclude)
    # fail on bad reducer names or aliases before a run is started
    compile_extras(extra_reducers or {})
    make_mapper((), dict(aliases or {}))
    keys = (environment_info,) if isinstance(environment_info, str) else tuple(environment_info)

    def resolve() -> RunTarget:
        return resolve_run(
            "auto" if run == LAZY else run,
            experiment_name=experiment_name,
            run_name=run_name,
            tracking_uri=tracking_uri,
            log_system_metrics=log_system_metrics,
        )

    lazy = isinstance(run, str) and run == LAZY
    if resume_from is not None:
        if not (isinstance(run, str) and run == "auto"):
            raise ValueError(f"resume_from picks the run itself: leave run='auto', got {run!r}")
        resumed = _resumed_run(resume_from, resolve, tracking_uri, step_offset, log_system_metrics)
        run, step_offset = resumed[0], resumed[1]
    return _build(
        agent,
        interval=interval,
        metric_filter=metric_filter,
        target_factory=lambda: None if run is None or lazy else resolve(),
        bind=resolve if lazy else None,
        extra_reducers=extra_reducers,
        aliases=aliases,
        flatten_depth=flatten_depth,
        environment_info=keys,
        aggregate_ranks=aggregate_ranks,
        sender_options={"max_queue_points": max_queue_points},
        flush_timeout=flush_timeout,
        upload_checkpoints=log_checkpoints,
        episode_stats=episode_stats,
        step_offset=step_offset,
        capture_only=run is None,
        log_config=log_config,
        task=task,
    )


def _resumed_run(
    checkpoint: str | os.PathLike[str],
    resolve: Callable[[], RunTarget],
    tracking_uri: str | None,
    step_offset: int,
    log_system_metrics: bool,
) -> tuple[RunTarget, int]:
    """The run ``checkpoint`` belongs to, resumed (else a new one), and where steps go on."""
    run_id = recorded_run(checkpoint)
    if run_id is None:
        _log.warning(
            "pat: no %s beside %s: its training's run is unknown, metrics go to a new run",
            RUN_FILE,
            checkpoint,
        )
        return resolve(), step_offset
    target = start_run(
        run_id=run_id, tracking_uri=tracking_uri, log_system_metrics=log_system_metrics
    )
    return target, step_offset or resume_step(target, checkpoint)


def existing(agent: Any) -> Instrumentation | None:
    """The open instrumentation of ``agent``, if any."""
    found = agent.__dict__.get(ATTRIBUTE) if hasattr(agent, "__dict__") else None
    return found if isinstance(found, Instrumentation) and not found.closed else None


def _build(
    agent: Any,
    *,
    interval: str | int,
    metric_filter: MetricFilter,
    target_factory: Callable[[], RunTarget | None],
    **options: Any,
) -> Instrumentation:
    """Create and start an :class:`Instrumentation` (see ``instrument``)."""
    parsed = parse_log_interval(interval)
    ranks = rank_info()
    if options["aggregate_ranks"] and ranks.distributed:
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            raise RuntimeError(
                "aggregate_ranks=True needs torch.distributed initialised in every process "
                "(skrl does it when WORLD_SIZE > 1; else call init_process_group first)"
            )
    log_config = options.pop("log_config")
    task = options.pop("task")
    bind = options.pop("bind", None) if ranks.is_writer else None
    options.pop("bind", None)
    target = target_factory() if ranks.is_writer else None
    try:
        handle = Instrumentation(
            agent,
            interval=parsed,
            metric_filter=metric_filter,
            target=target,
            ranks=ranks,
            bind=bind,
            **options,
        )
        handle._start(log_config, task)
    except BaseException:
        if target is not None and target.owned:  # leave no run pat started RUNNING or active
            target.end("FAILED")
        raise
    return handle
