"""Run an MLflow model of a policy on a task, deterministically, for whole episodes.

The model is loaded through MLflow (``mlflow.pyfunc.load_model``: ``models:/NAME/VERSION``,
``models:/NAME@alias``, ``runs:/ID/policy``, a local path); it maps a batch of observations
to actions, as ``pat_skrl_mlflow.log_policy`` logs it. The env is the one ``pat train``
makes (skrl-wrapped, with pat's env metrics). Imported only inside command bodies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from pat_cli._errors import DOMAIN_ERROR, bad_option, fail


@dataclass
class EvalResult:
    """Returns and lengths of the finished episodes, and the env metrics' means."""

    returns: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    env_metrics: dict[str, list[float]] = field(default_factory=dict)
    steps: int = 0

    def metrics(self) -> dict[str, float]:
        """``eval/*`` metrics: episode reward mean/std/min/max, length, env metrics' means."""
        n = len(self.returns)
        mean = sum(self.returns) / n
        std = math.sqrt(sum((r - mean) ** 2 for r in self.returns) / n)
        values = {
            "eval/episode_reward_mean": mean,
            "eval/episode_reward_std": std,
            "eval/episode_reward_min": min(self.returns),
            "eval/episode_reward_max": max(self.returns),
            "eval/episode_length_mean": sum(self.lengths) / n,
            "eval/episodes": float(n),
        }
        for key, seen in sorted(self.env_metrics.items()):
            values[f"eval/{key}"] = sum(seen) / len(seen)
        return values


def load_policy(uri: str) -> Any:
    """The pyfunc model at ``uri``; exit 2 naming the URI when MLflow cannot load it."""
    import os

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow

    try:
        return mlflow.pyfunc.load_model(uri)
    except Exception as error:
        text = " ".join(str(error).split())[:200] or type(error).__name__
        bad_option(
            "--model",
            uri,
            f"an MLflow model URI (models:/NAME/VERSION, runs:/ID/policy, a path): {text}",
        )


def check_fits(model: Any, uri: str, task: str, observations: int) -> None:
    """Exit 2 when the model's input signature is not ``(n, observations)``."""
    schema = model.metadata.get_input_schema()
    inputs = schema.inputs if schema is not None else []
    shape = tuple(getattr(inputs[0], "shape", ()) or ()) if len(inputs) == 1 else ()
    if shape and (len(shape) != 2 or shape[1] != observations):
        bad_option(
            "--model",
            uri,
            f"a policy for {task}'s observations, shape (n, {observations}); this model takes "
            f"shape {shape}",
        )


def rollout(model: Any, env: Any, episodes: int, *, max_steps: int = 100_000) -> EvalResult:
    """Step ``env`` with the model's actions until ``episodes`` episodes have ended."""
    import numpy as np
    import torch

    result = EvalResult()
    observations, _ = env.reset()
    running = torch.zeros(env.num_envs, dtype=torch.float64)
    length = torch.zeros(env.num_envs, dtype=torch.int64)
    discrete = env.action_space.__class__.__name__ == "Discrete"
    while len(result.returns) < episodes:
        if result.steps >= max_steps:
            fail(
                f"only {len(result.returns)} of {episodes} episodes ended in {max_steps:,} steps.",
                hint="a task whose episodes never end needs a time limit (env.max_episode_steps).",
                code=DOMAIN_ERROR,
            )
        with torch.no_grad():
            actions = np.asarray(model.predict(observations.detach().cpu().numpy()))
        tensor = torch.as_tensor(actions, device=observations.device)
        tensor = tensor.long().reshape(-1, 1) if discrete else tensor.float()
        observations, rewards, terminated, truncated, infos = env.step(tensor)
        result.steps += 1
        running += rewards.detach().cpu().reshape(-1).double()
        length += 1
        done = (terminated | truncated).detach().cpu().reshape(-1)
        for index in torch.nonzero(done).reshape(-1).tolist():
            if len(result.returns) < episodes:
                result.returns.append(float(running[index]))
                result.lengths.append(int(length[index]))
        running[done] = 0.0
        length[done] = 0
        for key, value in (infos.get("log") or {}).items() if isinstance(infos, dict) else ():
            if str(key).startswith("Episode_") and done.any():
                result.env_metrics.setdefault(str(key), []).append(
                    float(torch.as_tensor(value).float().mean())
                )
    return result
