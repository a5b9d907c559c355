"""Builders shared by the tests and their child-process scripts: envs, agents, readers.

Real parts only: gymnasium's own vector envs wrapped by skrl, skrl's Runner, MLflow
sqlite stores in temporary directories.
"""

from __future__ import annotations

import collections
import copy
import math
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
import skrl
import torch
from gymnasium.vector import AutoresetMode
from mlflow import MlflowClient
from skrl.envs.wrappers.torch import wrap_env
from skrl.utils.runner.torch import Runner

if TYPE_CHECKING:
    from collections.abc import Callable

SKRL_MAJOR = int(skrl.__version__.split(".", 1)[0])
SKRL2 = SKRL_MAJOR >= 2

_NET = [{"name": "net", "input": "OBSERVATIONS", "layers": [32, 32], "activations": "elu"}]
_Q_NET = [
    {
        "name": "net",
        "input": "concatenate([OBSERVATIONS, ACTIONS])"
        if SKRL2
        else "concatenate([STATES, ACTIONS])",
        "layers": [32, 32],
        "activations": "elu",
    }
]


def vector_env(
    env_id: str,
    num_envs: int = 4,
    wrappers: tuple[Callable[[Any], Any], ...] = (),
    max_episode_steps: int | None = None,
) -> Any:
    """A gymnasium vector env (same-step autoreset) wrapped for skrl."""
    kwargs = {} if max_episode_steps is None else {"max_episode_steps": max_episode_steps}
    env = gym.make_vec(
        env_id,
        num_envs=num_envs,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
        **kwargs,
    )
    for wrapper in wrappers:
        env = wrapper(env)
    return wrap_env(env, wrapper="gymnasium")


def _experiment(
    directory: str, write_interval: int | str, checkpoint_interval: int = 0
) -> dict[str, Any]:
    return {
        "directory": directory,
        "write_interval": write_interval,
        "checkpoint_interval": checkpoint_interval,
    }


def runner_cfg(
    algorithm: str,
    *,
    directory: str,
    timesteps: int,
    write_interval: int | str = "auto",
    discrete: bool = False,
    checkpoint_interval: int = 0,
    seed: int = 1,
    environment_info: str = "episode",
    **agent: Any,
) -> dict[str, Any]:
    """A skrl Runner config for a small agent of ``algorithm``."""
    algorithm = algorithm.upper()
    trainer = {
        "class": "SequentialTrainer",
        "timesteps": timesteps,
        "headless": True,
        "disable_progressbar": True,
        "close_environment_at_exit": False,
        "environment_info": environment_info,
    }
    experiment = _experiment(directory, write_interval, checkpoint_interval)
    if algorithm in ("PPO", "A2C", "RPO", "IPPO", "MAPPO"):
        if discrete:
            policy = {"class": "CategoricalMixin", "unnormalized_log_prob": True}
        else:
            policy = {"class": "GaussianMixin", "clip_actions": False, "initial_log_std": 0.0}
        models = {
            "separate": False,
            "policy": {**policy, "network": copy.deepcopy(_NET), "output": "ACTIONS"},
            "value": {
                "class": "DeterministicMixin",
                "network": copy.deepcopy(_NET),
                "output": "ONE",
            },
        }
        agent_cfg = {
            "class": algorithm,
            "rollouts": 16,
            "learning_epochs": 2,
            "mini_batches": 2,
            "entropy_loss_scale": 0.01,
            "experiment": experiment,
        }
        if algorithm != "A2C":
            agent_cfg["learning_epochs"] = 2
        else:
            del agent_cfg["learning_epochs"]
        memory = {"class": "RandomMemory", "memory_size": -1}
    else:
        policy_cls = "GaussianMixin" if algorithm == "SAC" else "DeterministicMixin"
        policy = {"class": policy_cls, "clip_actions": True}
        if algorithm == "SAC":
            policy["initial_log_std"] = 0.0
        q = {"class": "DeterministicMixin", "network": copy.deepcopy(_Q_NET), "output": "ONE"}
        models = {
            "separate": True,
            "policy": {**policy, "network": copy.deepcopy(_NET), "output": "ACTIONS"},
        }
        models["critic_1" if algorithm != "DDPG" else "critic"] = copy.deepcopy(q)
        models["target_critic_1" if algorithm != "DDPG" else "target_critic"] = copy.deepcopy(q)
        if algorithm in ("SAC", "TD3"):
            models["critic_2"] = copy.deepcopy(q)
            models["target_critic_2"] = copy.deepcopy(q)
        if algorithm in ("TD3", "DDPG"):
            models["target_policy"] = {
                **policy,
                "network": copy.deepcopy(_NET),
                "output": "ACTIONS",
            }
        agent_cfg = {
            "class": algorithm,
            "batch_size": 32,
            "learning_starts": 40,
            "experiment": experiment,
        }
        if algorithm in ("TD3", "DDPG"):
            if SKRL2:
                agent_cfg["exploration_noise"] = "GaussianNoise"
                agent_cfg["exploration_noise_kwargs"] = {"mean": 0.0, "std": 0.1}
            else:
                agent_cfg["exploration"] = {
                    "noise": "GaussianNoise",
                    "noise_kwargs": {"mean": 0.0, "std": 0.1},
                    "initial_scale": 1.0,
                    "final_scale": 1e-3,
                    "timesteps": None,
                }
        memory = {"class": "RandomMemory", "memory_size": 1000}
    agent_cfg.update(agent)
    return {
        "seed": seed,
        "models": models,
        "memory": memory,
        "agent": agent_cfg,
        "trainer": trainer,
    }


STD_TAG = "Policy / Standard deviation"
"""Tracked by skrl's PPO family at every update; NaN for a categorical policy (no std)."""


def measured_tags(recorder: TensorBoardRecorder, *, discrete: bool) -> set[str]:
    """The tags skrl tracked that measure something: pat logs exactly these."""
    return recorder.tags - {STD_TAG} if discrete else set(recorder.tags)


def ppo_runner(directory: str, *, num_envs: int, timesteps: int) -> Any:
    """A small PPO Runner without TensorBoard: CartPole on skrl 2.x, Pendulum on 1.x."""
    if SKRL2:
        env = vector_env("CartPole-v1", num_envs=num_envs)
    else:
        env = vector_env("Pendulum-v1", num_envs=num_envs, max_episode_steps=20)
    cfg = runner_cfg(
        "PPO", directory=directory, timesteps=timesteps, write_interval=0, discrete=SKRL2
    )
    return make_runner(env, cfg)


def make_runner(env: Any, cfg: dict[str, Any]) -> Any:
    """skrl's Runner for ``env`` and ``cfg``."""
    return Runner(env, cfg)


class TensorBoardRecorder:
    """Record what skrl's own TensorBoard writer reduces, independently of pat.

    Wraps ``agent.write_tracking_data`` and snapshots ``tracking_data`` (skrl's lists)
    right before skrl reduces and clears them: ``windows[step][tag]`` is the list of
    raw values and ``reduced[step][tag]`` the value skrl writes to TensorBoard.
    """

    def __init__(self, agent: Any) -> None:
        self.agent = agent
        self.windows: dict[int, dict[str, list[float]]] = {}
        self.reduced: dict[int, dict[str, float]] = {}
        original = agent.write_tracking_data

        def write_tracking_data(*args: Any, **kwargs: Any) -> Any:
            step = kwargs.get("timestep", args[0] if args else None)
            raw = {tag: [float(v) for v in values] for tag, values in agent.tracking_data.items()}
            self.windows[step] = raw
            self.reduced[step] = {tag: skrl_reduce(tag, values) for tag, values in raw.items()}
            return original(*args, **kwargs)

        agent.write_tracking_data = write_tracking_data

    @property
    def tags(self) -> set[str]:
        return {tag for window in self.windows.values() for tag in window}


def skrl_reduce(tag: str, values: list[float]) -> float:
    """skrl's ``write_tracking_data`` reduction."""
    if tag.endswith("(min)"):
        return float(np.min(values))
    if tag.endswith("(max)"):
        return float(np.max(values))
    return float(np.mean(values))


def metric_histories(uri: str, run_id: str) -> dict[str, list[tuple[int, float]]]:
    """Every metric of a run: key -> [(step, value), ...] sorted by step."""
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(run_id)
    out = {}
    for key in run.data.metrics:
        history = client.get_metric_history(run_id, key)
        out[key] = sorted((m.step, m.value) for m in history)
    return out


class RefreshingLog(gym.vector.VectorWrapper):
    """Adds ``infos["log"]`` the way Isaac Lab does: a new dict only when envs reset.

    On steps where an episode ends, ``infos["log"]`` becomes a new dict with the mean
    return and length of the finished episodes (1-element tensors) plus a Python int
    and a multi-element tensor; otherwise the previous dict object is returned again.
    ``refreshes`` lists ``(step_index, {name: value})`` for every new dict.
    """

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self._returns = np.zeros(self.num_envs)
        self._lengths = np.zeros(self.num_envs)
        self._log: dict[str, Any] | None = None
        self._step = 0
        self.refreshes: list[tuple[int, dict[str, float]]] = []

    def step(self, actions: Any) -> Any:
        obs, rewards, terminated, truncated, infos = self.env.step(actions)
        self._returns += rewards
        self._lengths += 1
        done = np.logical_or(terminated, truncated)
        if done.any():
            values = {
                "Episode_Reward/return": float(self._returns[done].mean()),
                "Episode_Metrics/length": float(self._lengths[done].mean()),
            }
            self._log = {
                "Episode_Reward/return": torch.tensor(values["Episode_Reward/return"]),
                "Episode_Metrics/length": torch.tensor(values["Episode_Metrics/length"]),
            }
            self.refreshes.append((self._step, values))
            self._returns[done] = 0
            self._lengths[done] = 0
        infos = dict(infos)
        if self._log is not None:
            infos["log"] = self._log
        self._step += 1
        return obs, rewards, terminated, truncated, infos


def group_by_window(events: list[tuple[int, float]], every: int) -> dict[int, list[float]]:
    """Group ``(trainer_step, value)`` by the window (multiple of ``every``) they fall in."""
    out: dict[int, list[float]] = collections.defaultdict(list)
    for step, value in events:
        out[-(-step // every) * every].append(value)
    return dict(out)


def same_value(a: float, b: float, tol: float = 1e-6) -> bool:
    """Equal within ``tol`` (absolute or relative), NaN equal to NaN."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=tol, abs_tol=tol)
