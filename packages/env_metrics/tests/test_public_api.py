"""Public surface: what each module exports, and that frameworks are imported only when used."""

from __future__ import annotations

import inspect
import subprocess
import sys

import gymnasium as gym
import pytest

import pat_env_metrics
import pat_env_metrics.gymnasium
import pat_env_metrics.isaaclab
from pat_env_metrics import MetricsTermCfg


def test_top_level_exports() -> None:
    assert set(pat_env_metrics.__all__) >= {
        "MetricsManager",
        "MetricsTermCfg",
        "NullMetricsManager",
        "make_metrics_manager",
        "REDUCE_OPTIONS",
        "EPISODE_STATS",
    }
    assert pat_env_metrics.REDUCE_OPTIONS == ("mean", "sum", "min", "max", "last", "std")
    for name in pat_env_metrics.__all__:
        assert hasattr(pat_env_metrics, name), name
    for name in pat_env_metrics.gymnasium.__all__:
        assert hasattr(pat_env_metrics.gymnasium, name), name


def test_term_cfg_fields_are_documented() -> None:
    source = inspect.getsource(MetricsTermCfg)
    for name in ("func", "params", "reduce", "per_substep", "episode_stats"):
        assert f"    {name}:" in source
        after = source.split(f"    {name}:", 1)[1].split("\n", 2)[1]
        assert after.strip().startswith('"""'), f"{name} has no field docstring"
    cfg = MetricsTermCfg(func=len)
    assert (cfg.params, cfg.reduce, cfg.per_substep, tuple(cfg.episode_stats)) == (
        {},
        "mean",
        False,
        ("mean",),
    )


def test_importing_the_package_and_the_isaaclab_subpackage_imports_no_framework() -> None:
    code = (
        "import sys, pat_env_metrics, pat_env_metrics.isaaclab, pat_env_metrics.testing\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('isaaclab', 'isaaclab_tasks', 'gymnasium', 'warp', 'newton', 'skrl', 'mlflow'))\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_attach_metrics_rejects_an_env_that_is_not_manager_based() -> None:
    env = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
    with pytest.raises(TypeError, match=r"needs an Isaac Lab ManagerBasedRLEnv.*lacks"):
        pat_env_metrics.isaaclab.attach_metrics(env)
    env.close()
