"""``pat train``: train a skrl agent with every metric in MLflow."""

from typing import Annotated

import typer

from pat_cli._errors import fail
from pat_cli._launch import (
    Launch,
    Nnodes,
    NodeRank,
    NprocPerNode,
    RdzvBackend,
    RdzvEndpoint,
    RdzvId,
    start_ranks,
)
from pat_cli._options import (
    AgentCfg,
    Algorithm,
    Device,
    Exclude,
    Experiment,
    MetricFilter,
    MetricFilterFile,
    Seed,
    TrackingUri,
    WholeNumber,
)

_HELP_INTERVAL = (
    "When MLflow is written: step, balanced (every 10 timesteps), rollout (once per rollout) "
    "or N timesteps. Default: rollout."
)


def train(
    overrides: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="KEY=VALUE",
            help="Config overrides in Hydra's grammar, after the options: agent.KEY for skrl's "
            "runner config (agent.agent.learning_rate=1e-4, agent.trainer.timesteps=4800), "
            "env.KEY for the env (gym.make keywords: env.max_episode_steps=100; Isaac Lab's env "
            "config: env.scene.num_envs=512); +KEY=VALUE adds a key, ~KEY deletes one.",
            show_default=False,
        ),
    ] = None,
    *,
    task: Annotated[
        str | None,
        typer.Option(
            "--task",
            "-t",
            help="Isaac Lab task (Isaac-Cartpole, or 2.x ids like Isaac-Cartpole-v0) or gymnasium "
            "id (CartPole-v1, Pendulum-v1, InvertedPendulum-v5). See `pat tasks`.",
            show_default=False,
        ),
    ] = None,
    algorithm: Algorithm = None,
    agent_cfg: AgentCfg = None,
    num_envs: Annotated[
        int | None,
        typer.Option(
            "--num-envs",
            "-n",
            help="Parallel envs. Default: the task's for gymnasium; for Isaac Lab 256 on CPU, "
            "4096 on GPU.",
            show_default=False,
            parser=WholeNumber("--num-envs", 1, 64),
        ),
    ] = None,
    timesteps: Annotated[
        int | None,
        typer.Option(
            "--timesteps",
            help="Trainer timesteps. Default: the agent config's.",
            show_default=False,
            parser=WholeNumber("--timesteps", 1, 1000),
        ),
    ] = None,
    max_iterations: Annotated[
        int | None,
        typer.Option(
            "--max-iterations",
            help="Rollouts to train for (timesteps = iterations x rollouts); on-policy agents.",
            show_default=False,
            parser=WholeNumber("--max-iterations", 1, 100),
        ),
    ] = None,
    seed: Seed = None,
    device: Device = None,
    log_interval: Annotated[
        str | None, typer.Option("--log-interval", help=_HELP_INTERVAL, show_default=False)
    ] = None,
    metric_filter: MetricFilter = None,
    metric_filter_file: MetricFilterFile = None,
    exclude: Exclude = None,
    tracking_uri: TrackingUri = None,
    experiment: Experiment = None,
    run_name: Annotated[
        str | None, typer.Option("--run-name", help="Name of the MLflow run.", show_default=False)
    ] = None,
    system_metrics: Annotated[
        bool, typer.Option("--system-metrics", help="Also log MLflow's CPU/memory/GPU metrics.")
    ] = False,
    checkpoint: Annotated[
        str | None,
        typer.Option(
            "--checkpoint",
            metavar="<path|latest|best|URI>",
            help="Start from these weights: a skrl checkpoint file, latest or best (the newest "
            "run of the task under ./runs), a checkpoint pat logged "
            "(runs:/RUN_ID/checkpoints/agent_1000.pt) or the one a registered policy carries "
            "(models:/NAME/VERSION). A new MLflow run, tagged with the run "
            "the weights came from (pat.parent_run); --resume continues that run instead.",
            show_default=False,
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="With --checkpoint: continue the checkpoint's own MLflow run, its steps "
            "going on after its last logged step.",
        ),
    ] = False,
    offline_ok: Annotated[
        bool,
        typer.Option(
            "--offline-ok",
            help="Train even if the MLflow store is unreachable: metrics wait in the run's "
            "spool and `pat sync` creates the run and delivers them.",
        ),
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="Print only errors and warnings (no progress, no table)."
        ),
    ] = False,
    json_output: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print only one JSON object at the end: the summary and the next commands.",
        ),
    ] = False,
    list_tasks: Annotated[
        bool, typer.Option("--list-tasks", help="List the tasks that run here (as `pat tasks`).")
    ] = False,
    log_model: Annotated[
        bool,
        typer.Option(
            "--log-model",
            help="At the end, log the trained policy as an MLflow model of the run (see `pat "
            "model log`).",
        ),
    ] = False,
    register_model: Annotated[
        str | None,
        typer.Option(
            "--register-model",
            metavar="<name>",
            help="At the end, log the policy and register it in MLflow's Model Registry under "
            "this name; prints models:/NAME/VERSION.",
            show_default=False,
        ),
    ] = None,
    from_run: Annotated[
        str | None,
        typer.Option(
            "--from-run",
            metavar="<run id>",
            help="Train again from this run's own record: its task, agent config "
            "(params/agent.yaml), env settings, seed, envs, timesteps and device; options and "
            "overrides given go on top. The new run is tagged pat.source_run.",
            show_default=False,
        ),
    ] = None,
    print_config: Annotated[
        bool,
        typer.Option(
            "--print-config",
            help="Print the resolved agent and env config (overrides applied) as YAML and exit.",
        ),
    ] = False,
    nproc_per_node: NprocPerNode = None,
    nnodes: Nnodes = None,
    node_rank: NodeRank = None,
    rdzv_endpoint: RdzvEndpoint = None,
    rdzv_backend: RdzvBackend = None,
    rdzv_id: RdzvId = None,
) -> None:
    """Train a skrl agent on an Isaac Lab or gymnasium task, every metric going to MLflow.

    Ctrl-C stops training and ends the run as KILLED once everything tracked is stored; a
    second Ctrl-C exits at once, leaving what is unsent in the run's spool for `pat sync`.

    Example: pat train --task CartPole-v1 agent.agent.rollouts=16

    --nproc-per-node N trains N ranks started by torchrun (one per GPU, else gloo ranks on
    the CPU); rank 0 writes the one MLflow run, with every rank's episodes.

    Example: pat train --task Isaac-Cartpole --nproc-per-node 2

    --from-run RUN trains again from a run's own record (task, configs, seed, envs,
    timesteps; options and overrides on top), in a new run tagged with RUN.

    Example: pat train --from-run RUN_ID agent.agent.learning_rate=3e-4
    """
    if list_tasks:
        from pat_cli.commands.tasks import tasks

        tasks()
        return
    from pat_cli import _overrides, _ranks
    from pat_cli import _train_plan as check
    from pat_cli._memory_estimate import check_fits
    from pat_cli._mlflow_store import resolve_tracking_uri
    from pat_cli._offline import store_writer
    from pat_cli._setup import finish_cfg, prepare

    parsed = tuple(_overrides.parse(overrides or []))
    if from_run is not None:
        from pat_cli import _from_run

        given = _from_run.fill_in(
            _from_run.read_record(from_run, resolve_tracking_uri(tracking_uri)),
            _from_run.Given(
                task, agent_cfg, num_envs, seed, timesteps, device, log_interval, parsed
            ),
        )
        task, agent_cfg, num_envs, seed = given.task, given.agent_cfg, given.num_envs, given.seed
        timesteps, device, log_interval = given.timesteps, given.device, given.log_interval
        parsed = given.overrides
    if task is None:
        fail(
            "missing option --task; expected a task id such as CartPole-v1.",
            hint="`pat tasks` lists them (or --from-run RUN trains a run's task again).",
        )
    num_envs = num_envs or _overrides.isaac_num_envs(parsed)
    if print_config:
        from pat_cli._config_print import print_config as show

        ready = prepare(task, algorithm, agent_cfg, num_envs, device, parsed)
        total = check.total_timesteps(ready.cfg, timesteps, max_iterations)
        show(ready, finish_cfg(ready.cfg, ready.choice, total, seed), parsed)
        return
    interval = check.parse_interval(log_interval or "rollout")
    include, excluded = check.filter_patterns(metric_filter, metric_filter_file, exclude)
    uri = resolve_tracking_uri(tracking_uri)
    if resume and checkpoint is None:
        fail("--resume needs --checkpoint; expected the checkpoint whose run to continue.")
    check.store_location(uri)
    start_ranks(  # more than one rank asked for: the input checked once, then torchrun
        Launch(nproc_per_node, nnodes, node_rank, rdzv_endpoint, rdzv_backend, rdzv_id),
        uri,
        device,
        lambda: check.total_timesteps(
            prepare(task, algorithm, agent_cfg, num_envs, device, parsed).cfg,
            timesteps,
            max_iterations,
        ),
    )
    device = _ranks.join(device)  # a rank: before skrl is imported (its process group)
    writer = store_writer(uri, system_metrics) if _ranks.writes() else None
    try:
        ready = prepare(task, algorithm, agent_cfg, num_envs, device, parsed)
        weights = check.checkpoint(checkpoint, ready.choice.id, uri)
        total = check.total_timesteps(ready.cfg, timesteps, max_iterations)
        check_fits(ready.choice, ready.cfg, ready.num_envs, ready.device)
        if writer is not None:
            writer.begin_check()  # the input is valid: open (or create) the store now

        from pat_cli._rank_training import train as run_training

        plan = check.TrainPlan(
            task=ready.choice,
            agent_cfg=finish_cfg(ready.cfg, ready.choice, total, seed),
            agent_cfg_source=ready.source,
            algorithm=ready.algorithm,
            num_envs=ready.num_envs,
            timesteps=total,
            seed=seed if seed is not None else ready.cfg.get("seed"),
            device=ready.device,
            log_interval=interval,
            include=include,
            exclude=excluded,
            tracking_uri=uri,
            experiment=experiment,
            run_name=run_name,
            system_metrics=system_metrics,
            checkpoint=weights,
            resume=resume,
            checkpoint_run=check.checkpoint_run(checkpoint, weights),
            source_run=from_run,
            log_model=log_model or register_model is not None,
            register_model=register_model,
            env_metrics=ready.env_metrics,
            offline_ok=offline_ok,
            output="json" if json_output else "quiet" if quiet else "rich",
            env_overrides=tuple(parsed),
        )
        code = run_training(plan, writer)
    finally:  # every request was answered, or the command failed: no need to wait
        if writer is not None:
            writer.close(timeout=0)
    if code:
        raise typer.Exit(code)
