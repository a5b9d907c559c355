"""``pat inspect tracking-data``: what an agent tracks, how pat would log it (no MLflow)."""

import json
from typing import Annotated

import typer

from pat_cli import _format
from pat_cli._console import console
from pat_cli._options import (
    AgentCfg,
    Algorithm,
    Device,
    Exclude,
    JsonOutput,
    MetricFilter,
    MetricFilterFile,
    Seed,
)


def tracking_data(
    *,
    task: Annotated[
        str,
        typer.Option(
            "--task", "-t", help="Task to roll out (see `pat tasks`).", show_default=False
        ),
    ],
    algorithm: Algorithm = None,
    agent_cfg: AgentCfg = None,
    timesteps: Annotated[
        int | None,
        typer.Option(
            "--timesteps",
            help="Rollout length. Default: one agent update and the first episode ends.",
            show_default=False,
        ),
    ] = None,
    num_envs: Annotated[
        int | None,
        typer.Option(
            "--num-envs", "-n", help="Parallel envs. Default: the task's.", show_default=False
        ),
    ] = None,
    seed: Seed = None,
    device: Device = None,
    metric_filter: MetricFilter = None,
    metric_filter_file: MetricFilterFile = None,
    exclude: Exclude = None,
    json_output: JsonOutput = False,
) -> None:
    """Roll out a task briefly, without MLflow, and list every tag the agent tracks.

    One row per skrl tag: its MLflow key, the window reduction, how many values the rollout
    produced (env info once per refresh, as pat logs it), the last one, and whether the given
    filters keep it.

    Example: pat inspect tracking-data --task CartPole-v1 --exclude 'Stats*'
    """
    from pat_cli import _train_plan as check
    from pat_cli._rollout import default_timesteps, run_rollout
    from pat_cli._setup import prepare
    from pat_skrl_mlflow import MetricName, explain_filter

    check.positive("--timesteps", timesteps)
    check.positive("--num-envs", num_envs)
    include, excluded = check.filter_patterns(metric_filter, metric_filter_file, exclude)
    ready = prepare(task, algorithm, agent_cfg, num_envs, device)
    steps = timesteps or default_timesteps(ready.cfg)
    records = run_rollout(ready, timesteps=steps, seed=seed)
    decisions, unmatched = explain_filter(
        [MetricName(r.key, r.tag) for r in records], include, excluded
    )
    kept = {d.name.tag or d.name.key: d.logged for d in decisions}

    if json_output:
        payload = {
            "task": ready.choice.id,
            "algorithm": ready.algorithm,
            "timesteps": steps,
            "num_envs": ready.num_envs,
            "tags": [
                {
                    "tag": r.tag,
                    "key": r.key,
                    "reducer": r.reducer,
                    "values": r.count,
                    "last": _format.json_number(r.last),
                    "kept": kept[r.tag],
                }
                for r in records
            ],
            "unmatched": [
                {"pattern": u.pattern, "kind": u.kind, "problem": u.explain()} for u in unmatched
            ],
        }
        typer.echo(json.dumps(payload, indent=2))
        return

    from pat_cli.commands._filter_tables import unmatched_table
    from pat_cli.commands.inspect._tables import tracking_table

    title = (
        f"{ready.choice.id} · {ready.algorithm.upper()} · {ready.num_envs} envs x {steps} "
        f"timesteps · {len(records)} tags"
    )
    console.print(tracking_table(records, kept, title))
    if unmatched:
        console.print(unmatched_table(unmatched))
