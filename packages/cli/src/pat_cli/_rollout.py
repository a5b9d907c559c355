"""A short live rollout that records what a skrl agent tracks, without MLflow.

pat-skrl-mlflow instruments the agent in capture-only mode (``instrument(agent, run=None)``):
every value appended to ``agent.tracking_data`` (the agent's own values, episode rewards and
lengths, the trainer's timings and the env info the trainer copies, once per refresh) is
counted exactly as a real run would log it, with the MLflow key and the window reduction
pat-skrl-mlflow uses. Nothing is sent and MLflow is not imported. skrl's TensorBoard files and
checkpoints go to a temporary directory that is removed afterwards.
"""

from __future__ import annotations

import tempfile
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pat_cli._setup import Prepared
    from pat_skrl_mlflow import TagStats

MIN_ROLLOUT_TIMESTEPS = 300
"""Long enough for the first episodes of the shipped tasks (and Isaac-Cartpole) to end."""


def default_timesteps(cfg: dict[str, Any]) -> int:
    """Enough timesteps for one agent update and the first episode ends."""
    agent = cfg["agent"]
    needed = [MIN_ROLLOUT_TIMESTEPS]
    if isinstance(agent.get("rollouts"), int):
        needed.append(2 * agent["rollouts"])
    if isinstance(agent.get("learning_starts"), int):
        needed.append(agent["learning_starts"] + 2 * max(1, int(agent.get("gradient_steps", 1))))
    return max(needed)


def run_rollout(ready: Prepared, *, timesteps: int, seed: int | None) -> list[TagStats]:
    """Train ``timesteps`` trainer steps; one row per tracked tag, in first-seen order.

    Each row has the tag's MLflow key, window reducer, how many values were tracked and the last.
    """
    from pat_cli._training import cpu_threads, quiet_libraries

    quiet_libraries()  # first: importing skrl prints Warp's banner
    cpu_threads(ready.device)

    from pat_cli._setup import finish_cfg
    from pat_cli._train_env import EnvSpec, build_runner, make_env
    from pat_skrl_mlflow import instrument

    with tempfile.TemporaryDirectory(prefix="pat-rollout-") as directory:
        cfg = finish_cfg(ready.cfg, ready.choice, timesteps, seed, directory=directory)
        # skrl records rewards only with a positive write interval ("auto" is timesteps / 100,
        # which a short rollout rounds to 0); one TensorBoard write at the end is enough.
        cfg["agent"]["experiment"].update(checkpoint_interval=0, write_interval=timesteps)
        env = make_env(EnvSpec(ready.choice, ready.num_envs, ready.device, seed, ready.env_metrics))
        try:
            runner = build_runner(env, cfg, source=ready.source)
            # as `pat train` logs it: values of the env info entry the trainer copies
            info = str(cfg["trainer"]["environment_info"])
            with instrument(runner.agent, run=None, environment_info=info) as handle:
                runner.run()
            writer = getattr(runner.agent, "writer", None)
            if writer is not None:  # flush TensorBoard before its directory goes away
                writer.close()
        finally:
            env.close()
    return handle.tag_stats
