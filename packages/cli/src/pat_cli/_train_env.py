"""Create the training env of a plan, wrapped for skrl, with pat's env-side metrics.

gymnasium: pat-env-metrics' ``make_vector_env`` (same-step autoreset, float32 observations,
``Episode_Metrics/*`` in ``info["log"]`` for skrl's ``environment_info: log``).
Isaac Lab: pat-env-metrics' kitless ``make_env`` with the metrics manager attached.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pat_cli._errors import DOMAIN_ERROR, bad_option, fail
from pat_cli._quiet import quiet_setup

if TYPE_CHECKING:
    from pat_cli._catalog import TaskChoice


@dataclass(frozen=True)
class EnvSpec:
    """What to create: the task, how many envs, where, the seed and the env-side metrics."""

    task: TaskChoice
    num_envs: int
    device: str
    seed: int | None
    env_metrics: dict[str, Any]
    overrides: tuple[Any, ...] = ()
    """``env.`` overrides: ``gym.make`` keywords, or fields of an Isaac Lab env config."""


def make_env(plan: EnvSpec) -> Any:
    """The skrl-wrapped env of ``plan`` (exit 1 with a hint when it cannot be created).

    What the simulators print while they set up (Warp's banner, Isaac Lab's manager tables)
    is held back, and shown on stderr only when creation fails.
    """
    with quiet_setup():
        if plan.task.kind == "isaaclab":
            return _isaaclab(plan)
        return _gymnasium(plan)


def build_runner(env: Any, cfg: dict[str, Any], *, source: str, hint: str | None = None) -> Any:
    """The skrl ``Runner`` of ``env`` and the agent config ``cfg`` (read from ``source``).

    A config skrl cannot build from closes ``env`` and exits 2 in one line naming ``source``.
    """
    from skrl.utils.runner.torch import Runner

    try:
        with quiet_setup():  # skrl warns about Isaac Lab configs' deprecated fields
            return Runner(env, cfg)
    except Exception as error:
        env.close()
        fail(
            f"skrl could not build the agent from {source}: {type(error).__name__}: {error}",
            hint=hint or "check the agent config against skrl's runner docs.",
        )


def gym_metrics(config: dict[str, Any], source: str) -> dict[str, Any]:
    """``MetricsTermCfg`` objects from a YAML mapping of term name -> fields."""
    from pat_env_metrics import MetricsTermCfg

    terms = {}
    for name, fields in config.items():
        try:
            terms[name] = MetricsTermCfg(**fields)
        except TypeError as error:
            fail(f"env metrics term {name!r} in {source} is invalid: {error}")
    return terms


def _gymnasium(plan: EnvSpec) -> Any:
    import gymnasium as gym
    import skrl
    from skrl.envs.wrappers.torch import wrap_env

    from pat_cli._overrides import gym_env_kwargs
    from pat_env_metrics.gymnasium import make_vector_env

    kwargs = gym_env_kwargs(plan.task.id, plan.overrides)
    try:
        env = make_vector_env(
            plan.task.id,
            plan.num_envs,
            metrics=plan.env_metrics,
            seed=plan.seed,
            device=plan.device,
            **kwargs,
        )
    except gym.error.DependencyNotInstalled as error:
        fail(
            f"task {plan.task.id!r} needs a package that is not installed: {error}",
            hint="`pat tasks` says what each task needs.",
            code=DOMAIN_ERROR,
        )
    except (TypeError, ValueError) as error:
        fail(f"the env metrics of {plan.task.id} are invalid: {error}")
    skrl.config.torch.device = plan.device
    return wrap_env(env, wrapper="gymnasium", verbose=False)


def _isaaclab(plan: EnvSpec) -> Any:
    from skrl.envs.wrappers.torch import wrap_env

    from pat_cli._overrides import configure_env_cfg
    from pat_cli.tasks.isaaclab_metrics import isaaclab_metrics
    from pat_env_metrics.isaaclab import make_env as make_isaaclab_env
    from pat_env_metrics.kitless import IsaacLabError

    try:
        env = make_isaaclab_env(
            plan.task.id,
            num_envs=plan.num_envs,
            device=plan.device,
            seed=plan.seed,
            metrics=isaaclab_metrics(plan.task.id),
            configure=configure_env_cfg(plan.overrides),
        )
    except IsaacLabError as error:
        fail(str(error), code=DOMAIN_ERROR)
    except ValueError as error:
        bad_option("--num-envs", plan.num_envs, str(error))
    return wrap_env(env, wrapper="isaaclab", verbose=False)
