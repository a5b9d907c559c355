"""Create the training env of a plan, wrapped for skrl, with pat's env-side metrics.

gymnasium: ``make_vec`` (sync, same-step autoreset, so skrl sees no bogus reset transition),
float64 observations cast to float32 (skrl's Runner needs float32; gymnasium's own dtype
wrapper refuses same-step autoreset), then pat-env-metrics' ``RecordEpisodeMetrics``, which
puts ``Episode_Metrics/*`` in ``info["log"]`` for skrl's ``environment_info: log``.

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
    import numpy as np
    import skrl
    from gymnasium.vector import AutoresetMode
    from skrl.envs.wrappers.torch import wrap_env

    from pat_cli._overrides import gym_env_kwargs
    from pat_env_metrics.gymnasium import RecordEpisodeMetrics

    kwargs = gym_env_kwargs(plan.task.id, plan.overrides)
    try:
        env = gym.make_vec(
            plan.task.id,
            num_envs=plan.num_envs,
            vectorization_mode="sync",
            vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
            **kwargs,
        )
    except gym.error.DependencyNotInstalled as error:
        fail(
            f"task {plan.task.id!r} needs a package that is not installed: {error}",
            hint="`pat tasks` says what each task needs.",
            code=DOMAIN_ERROR,
        )
    space = env.single_observation_space
    if getattr(space, "dtype", None) == np.float64:
        env = Float32Observations.wrap(env)
    if plan.env_metrics:
        try:
            env = RecordEpisodeMetrics(env, plan.env_metrics, device=plan.device)
        except (TypeError, ValueError) as error:
            env.close()
            fail(f"the env metrics of {plan.task.id} are invalid: {error}")
    env.reset(seed=plan.seed)
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


class Float32Observations:
    """Cast a vector env's float64 observations to float32 (a ``VectorWrapper`` subclass)."""

    @staticmethod
    def wrap(env: Any) -> Any:
        """Return ``env`` wrapped (the class is built on first use: gymnasium is optional)."""
        import gymnasium as gym
        import numpy as np
        from gymnasium.vector import VectorWrapper

        class _Float32(VectorWrapper):
            def __init__(self, inner: Any) -> None:
                super().__init__(inner)
                self.single_observation_space = _float32_box(gym, inner.single_observation_space)
                self.observation_space = _float32_box(gym, inner.observation_space)

            def reset(self, **kwargs: Any) -> Any:
                obs, info = self.env.reset(**kwargs)
                return obs.astype(np.float32), info

            def step(self, actions: Any) -> Any:
                obs, reward, terminated, truncated, info = self.env.step(actions)
                return obs.astype(np.float32), reward, terminated, truncated, info

        return _Float32(env)


def _float32_box(gym: Any, space: Any) -> Any:
    import numpy as np

    return gym.spaces.Box(
        low=space.low.astype(np.float32), high=space.high.astype(np.float32), dtype=np.float32
    )
