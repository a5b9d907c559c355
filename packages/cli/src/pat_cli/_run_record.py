"""What ``pat train`` records of a run at its start: enough to compare and reproduce it.

Params: what the command chose (:data:`RUN_PARAMS`); the agent config's own flattened
params come from pat-skrl-mlflow's ``instrument``. Artifacts, named as Isaac Lab's training
scripts name them: ``params/agent.yaml`` (the resolved skrl runner config) and
``params/env.yaml`` (the env as created).

Imported only inside command bodies.
"""

from __future__ import annotations

import os
import shlex
from typing import TYPE_CHECKING, Any

from pat_cli._console import err_console

if TYPE_CHECKING:
    from pat_cli._train_plan import TrainPlan
    from pat_skrl_mlflow import RunTarget

RUN_PARAMS = (
    "task",
    "algorithm",
    "num_envs",
    "seed",
    "timesteps",
    "device",
    "log_interval",
    "world_size",
)
"""The params ``pat train`` sets from its own options (and ``WORLD_SIZE``)."""
ENV_OVERRIDES_PARAM = "env_overrides"
"""Of an Isaac Lab task: the ``env.`` overrides given, in a shell's quoting (``--from-run``
replays them; a gymnasium task's ``params/env.yaml`` holds its whole ``gym.make`` call)."""
AGENT_ARTIFACT = "params/agent.yaml"
ENV_ARTIFACT = "params/env.yaml"
_VECTOR_KEYS = ("num_envs", "vectorization_mode", "vector_kwargs")


def run_params(plan: TrainPlan) -> dict[str, Any]:
    """The :data:`RUN_PARAMS` of ``plan``, as the command line gave them.

    Of an Isaac Lab task also :data:`ENV_OVERRIDES_PARAM`, where ``env.`` overrides were given.
    """
    interval = plan.log_interval
    every = interval.every if interval.kind == "timesteps" else None
    params: dict[str, Any] = {
        "task": plan.task.id,
        "algorithm": plan.algorithm,
        "num_envs": plan.num_envs,
        "seed": plan.seed,
        "timesteps": plan.timesteps,
        "device": plan.device,
        "log_interval": every or interval.kind,
        "world_size": os.environ.get("WORLD_SIZE") or 1,
    }
    given = [override.text for override in plan.env_overrides if override.root == "env"]
    if plan.task.kind == "isaaclab" and given:
        params[ENV_OVERRIDES_PARAM] = shlex.join(given)
    return params


def env_config(env: Any, plan: TrainPlan) -> dict[str, Any]:
    """The env as created: Isaac Lab's env config, or gymnasium's spec and ``gym.make`` keywords.

    ``env``: the skrl-wrapped env of ``plan``.
    """
    unwrapped = getattr(env, "unwrapped", env)
    cfg = getattr(unwrapped, "cfg", None)
    if plan.task.kind == "isaaclab" or cfg is not None:
        return _isaaclab_config(cfg, plan)
    return _gymnasium_config(unwrapped, plan)


def record_run(plan: TrainPlan, target: RunTarget, env: Any) -> None:
    """Log the :data:`RUN_PARAMS`, ``params/agent.yaml`` and ``params/env.yaml`` to ``target``.

    Nothing raises: what the store refuses is warned about and training goes on.
    """
    from pat_skrl_mlflow import log_params, log_yaml

    log_params(target, run_params(plan))
    log_yaml(target, plan.agent_cfg, AGENT_ARTIFACT)
    try:
        document = env_config(env, plan)
    except Exception as error:  # an env pat cannot describe is still trained
        err_console.print(f"Could not describe the env config for {ENV_ARTIFACT}: {error}")
        return
    log_yaml(target, document, ENV_ARTIFACT)


def _isaaclab_config(cfg: Any, plan: TrainPlan) -> dict[str, Any]:
    """An Isaac Lab env config (a configclass) as a mapping: its ``to_dict()`` if it has one."""
    to_dict = getattr(cfg, "to_dict", None)
    document: Any = None
    if callable(to_dict):
        try:
            document = to_dict()
        except Exception:  # a field to_dict cannot convert: the dataclass fields below
            document = None
    if not isinstance(document, dict):
        from pat_skrl_mlflow import readable

        document = readable(cfg)
    if not isinstance(document, dict):
        document = {"cfg": document}
    return {"task": plan.task.id, "num_envs": plan.num_envs, "seed": plan.seed, **document}


def _gymnasium_config(vector_env: Any, plan: TrainPlan) -> dict[str, Any]:
    """A gymnasium vector env: id, ``gym.make`` keywords, episode limit, vectorization."""
    spec = getattr(vector_env, "spec", None)
    envs = getattr(vector_env, "envs", None)
    single = getattr(envs[0], "spec", None) if envs else None  # sync: the effective make()
    if spec is None and single is None:
        return {"id": plan.task.id, "num_envs": plan.num_envs, "seed": plan.seed}
    vector_kwargs = dict(getattr(spec, "kwargs", None) or {})
    vector = {key: vector_kwargs.pop(key) for key in _VECTOR_KEYS if key in vector_kwargs}
    if single is not None:
        made, limit, kwargs = single, single.max_episode_steps, dict(single.kwargs or {})
    else:  # the vector env's spec: its registered limit unless make_vec was given one
        assert spec is not None
        made, kwargs = spec, vector_kwargs
        limit = kwargs.pop("max_episode_steps", spec.max_episode_steps)
    return {
        "id": made.id,
        "entry_point": made.entry_point,
        "max_episode_steps": limit,
        "kwargs": kwargs,
        "num_envs": vector.get("num_envs", getattr(vector_env, "num_envs", plan.num_envs)),
        "vectorization_mode": vector.get("vectorization_mode"),
        "vector_kwargs": vector.get("vector_kwargs", {}),
        "seed": plan.seed,
    }
