"""Mixed configurations: every term its own reduce, stats and substep mode, checked by brute force.

The manager keeps all terms in one stacked state grouped by reduction and computes each
statistic for all terms at once; these cases vary which groups and statistics exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pat_env_metrics import REDUCE_OPTIONS, MetricsManager, MetricsTermCfg

REDUCE = {
    "mean": np.mean,
    "sum": np.sum,
    "min": np.min,
    "max": np.max,
    "last": lambda steps: steps[-1],
    "std": np.std,
}
STATS = ("mean", "std", "min", "max", "p0", "p10", "p50", "p90", "p99.9", "p100")


def summarise(episodes: np.ndarray, stat: str) -> float:
    named = {"mean": np.mean, "std": np.std, "min": np.min, "max": np.max}
    if stat in named:
        return float(named[stat](episodes))
    return float(np.quantile(episodes, float(stat[1:]) / 100))


@dataclass
class ColumnsEnv:
    """Term ``i`` reads column ``i`` of ``values``, so every term sees different numbers."""

    num_envs: int
    device: str = "cpu"
    values: torch.Tensor = field(default_factory=lambda: torch.zeros(1, 1))


def column(env: ColumnsEnv, index: int) -> torch.Tensor:
    return env.values[:, index]


@st.composite
def configurations(draw: st.DrawFn) -> list[tuple[str, tuple[str, ...], bool]]:
    term = st.tuples(
        st.sampled_from(REDUCE_OPTIONS),
        st.lists(st.sampled_from(STATS), min_size=1, max_size=3, unique=True).map(tuple),
        st.booleans(),
    )
    return draw(st.lists(term, min_size=1, max_size=6))


@settings(max_examples=80, deadline=None)
@given(
    terms=configurations(),
    num_envs=st.integers(1, 6),
    steps=st.integers(1, 25),
    data=st.data(),
)
def test_each_term_equals_its_brute_force_summary(
    terms: list[tuple[str, tuple[str, ...], bool]], num_envs: int, steps: int, data: st.DataObject
) -> None:
    floats = st.floats(-100, 100, width=32, allow_subnormal=False)
    values = data.draw(arrays(np.float32, (steps, num_envs, len(terms)), elements=floats))
    masks = data.draw(st.none() | arrays(np.bool_, (steps, num_envs)))
    resets = data.draw(arrays(np.bool_, (steps, num_envs)))
    env = ColumnsEnv(num_envs, values=torch.zeros(num_envs, len(terms)))
    cfg = {
        f"t{i}": MetricsTermCfg(
            func=column, params={"index": i}, reduce=reduce, episode_stats=stats, per_substep=sub
        )
        for i, (reduce, stats, sub) in enumerate(terms)
    }
    manager = MetricsManager(cfg, env)
    recorded: list[list[list[float]]] = [[[] for _ in terms] for _ in range(num_envs)]

    def check(log: dict[str, torch.Tensor], ended: list[list[list[float]]]) -> None:
        if not ended:
            assert log == {}
            return
        expected = {}
        for i, (reduce, stats, _) in enumerate(terms):
            episodes = np.array(
                [np.float32(REDUCE[reduce](np.array(env_steps[i]))) for env_steps in ended],
                dtype=np.float64,
            )
            for stat in stats:
                key = f"Episode_Metrics/t{i}" + ("" if stat == "mean" else f"/{stat}")
                expected[key] = summarise(episodes, stat)
        assert list(log) == list(expected)  # the configuration's order
        for key, value in log.items():
            assert value.dim() == 0, key
            assert value.dtype == torch.float32, key
            np.testing.assert_allclose(
                value.item(), expected[key], rtol=1e-5, atol=1e-5, err_msg=key
            )

    for t in range(steps):
        env.values = torch.from_numpy(values[t].copy())
        if t % 2:  # a substep with the same values: the substep mean equals them
            manager.compute_substep()
        manager.compute(None if masks is None else torch.from_numpy(masks[t].copy()))
        for env_id in range(num_envs):
            if masks is None or masks[t, env_id]:
                for i in range(len(terms)):
                    recorded[env_id][i].append(float(values[t, env_id, i]))
        ids = np.flatnonzero(resets[t])
        ended = [recorded[e] for e in ids if recorded[e][0]]
        check(manager.reset(torch.as_tensor(ids)), ended)
        for e in ids:
            recorded[e] = [[] for _ in terms]
    check(manager.reset(slice(None)), [steps for steps in recorded if steps[0]])
    assert manager.reset(None) == {}


@pytest.mark.parametrize("stats", [("p90",), ("p50", "p10"), ("max",), ("std", "p100")])
def test_percentile_only_and_single_stat_terms_log_zero_dim_values(stats: tuple[str, ...]) -> None:
    env = ColumnsEnv(4, values=torch.tensor([[1.0], [2.0], [3.0], [4.0]]))
    cfg = {"x": MetricsTermCfg(func=column, params={"index": 0}, episode_stats=stats)}
    manager = MetricsManager(cfg, env)
    manager.compute()
    log = manager.reset()
    episodes = np.array([1.0, 2.0, 3.0, 4.0])
    assert set(log) == {"Episode_Metrics/x" + ("" if s == "mean" else f"/{s}") for s in stats}
    for stat in stats:
        value = log["Episode_Metrics/x" + ("" if stat == "mean" else f"/{stat}")]
        assert value.dim() == 0
        assert value.item() == pytest.approx(summarise(episodes, stat))


def test_a_nan_episode_makes_its_rows_percentiles_nan_and_leaves_other_terms_alone() -> None:
    env = ColumnsEnv(3, values=torch.tensor([[1.0, 1.0], [float("nan"), 2.0], [3.0, 3.0]]))
    stats = ("p10", "p90")
    cfg = {
        f"t{i}": MetricsTermCfg(func=column, params={"index": i}, episode_stats=stats)
        for i in range(2)
    }
    manager = MetricsManager(cfg, env)
    manager.compute()
    log = manager.reset()
    assert np.isnan(log["Episode_Metrics/t0/p10"].item())  # as torch.quantile and numpy
    assert np.isnan(log["Episode_Metrics/t0/p90"].item())
    assert log["Episode_Metrics/t1/p10"].item() == pytest.approx(1.2)
    assert log["Episode_Metrics/t1/p90"].item() == pytest.approx(2.8)
