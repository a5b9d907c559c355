"""``pat eval``: run a policy logged as an MLflow model on a task, and log how it did."""

from typing import Annotated

import typer

from pat_cli._console import console
from pat_cli._options import Experiment, Seed, TrackingUri, WholeNumber

EVALUATED_TAG = "pat.evaluated_model"


def eval_(
    *,
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            metavar="<uri>",
            help="The policy: an MLflow model URI (models:/NAME/VERSION, models:/NAME@alias, "
            "runs:/RUN_ID/policy) or a local model directory, as `pat model log` logs it.",
            show_default=False,
        ),
    ],
    task: Annotated[
        str,
        typer.Option(
            "--task", "-t", help="The task to run it on. See `pat tasks`.", show_default=False
        ),
    ],
    episodes: Annotated[
        int,
        typer.Option(
            "--episodes", help="Episodes to run.", parser=WholeNumber("--episodes", 1, 10)
        ),
    ] = 10,
    num_envs: Annotated[
        int,
        typer.Option(
            "--num-envs", "-n", help="Parallel envs.", parser=WholeNumber("--num-envs", 1, 4)
        ),
    ] = 4,
    seed: Seed = None,
    tracking_uri: TrackingUri = None,
    experiment: Experiment = None,
) -> None:
    """Run a policy logged as an MLflow model on a task and log eval/* metrics.

    The policy acts deterministically for whole episodes; a new run gets
    eval/episode_reward_mean, _std, _min, _max, eval/episode_length_mean and the task's env
    metrics (eval/Episode_Metrics/...), tagged with the model it evaluated.

    Example: pat eval --model models:/cartpole-ppo/1 --task CartPole-v1
    """
    from pat_cli._evaluation import check_fits, load_policy, rollout
    from pat_cli._mlflow_store import resolve_tracking_uri
    from pat_cli._setup import prepare
    from pat_cli._train_env import EnvSpec, make_env
    from pat_cli.commands._eval_table import eval_table

    uri = resolve_tracking_uri(tracking_uri)
    ready = prepare(task, None, None, num_envs, "cpu")
    import mlflow

    mlflow.set_tracking_uri(uri)
    policy = load_policy(model)
    env = make_env(EnvSpec(ready.choice, ready.num_envs, "cpu", seed, ready.env_metrics))
    try:
        check_fits(policy, model, ready.choice.id, int(env.observation_space.shape[0]))
        result = rollout(policy, env, episodes)
    finally:
        env.close()
    metrics = result.metrics()
    run_id = _log_run(uri, experiment, model, ready.choice.id, metrics)
    console.print(eval_table(model, ready.choice.id, metrics, run_id))


def _log_run(
    uri: str, experiment: str | None, model: str, task: str, metrics: dict[str, float]
) -> str:
    import time

    from mlflow import MlflowClient
    from mlflow.entities import Metric

    from pat_skrl_mlflow import experiment_choice

    client = MlflowClient(uri)
    name, experiment_id = experiment_choice(experiment)
    if name:
        found = client.get_experiment_by_name(name)
        experiment_id = found.experiment_id if found else client.create_experiment(name)
    run = client.create_run(
        experiment_id or "0",
        run_name=f"eval-{task}",
        tags={EVALUATED_TAG: model, "pat.task": task, "pat.kind": "eval"},
    )
    now = int(time.time() * 1000)
    client.log_batch(
        run.info.run_id, metrics=[Metric(key, value, now, 0) for key, value in metrics.items()]
    )
    client.set_terminated(run.info.run_id, "FINISHED")
    return str(run.info.run_id)
