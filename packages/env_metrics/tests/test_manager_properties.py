"""Property tests: the manager's output equals a brute-force recomputation from recorded steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pat_env_metrics import REDUCE_OPTIONS, MetricsManager, MetricsTermCfg

STATS = ("mean", "std", "min", "max", "p50", "p90", "p10")

REFERENCE_REDUCE = {
    "mean": np.mean,
    "sum": np.sum,
    "min": np.min,
    "max": np.max,
    "last": lambda steps: steps[-1],
    "std": np.std,  # population (ddof=0)
}


def reference_stat(episodes: np.ndarray, stat: str) -> float:
    if stat == "mean":
        return float(np.mean(episodes))
    if stat == "std":
        return float(np.std(episodes))
    if stat == "min":
        return float(np.min(episodes))
    if stat == "max":
        return float(np.max(episodes))
    return float(np.quantile(episodes, int(stat[1:]) / 100))  # linear interpolation


@dataclass
class ScriptedEnv:
    """An env whose per-step metric values the test sets before each compute."""

    num_envs: int
    device: str = "cpu"
    value: torch.Tensor = field(default_factory=lambda: torch.zeros(1))


def scripted_value(env: ScriptedEnv) -> torch.Tensor:
    return env.value


def all_options_cfg(*, per_substep: bool = False) -> dict[str, MetricsTermCfg]:
    return {
        f"{reduce}_term": MetricsTermCfg(
            func=scripted_value, reduce=reduce, per_substep=per_substep, episode_stats=STATS
        )
        for reduce in REDUCE_OPTIONS
    }


def expected_log(ended: list[list[float]], prefix: str = "Episode_Metrics") -> dict[str, float]:
    """Brute force: reduce each ended episode's recorded steps, then summarise the episodes."""
    log: dict[str, float] = {}
    for reduce, fn in REFERENCE_REDUCE.items():
        # the manager reports float32 episode values; round the same way before summarising
        episodes = np.array([np.float32(fn(np.array(steps))) for steps in ended], dtype=np.float64)
        for stat in STATS:
            key = f"{prefix}/{reduce}_term" + ("" if stat == "mean" else f"/{stat}")
            log[key] = reference_stat(episodes, stat)
    return log


def assert_log_matches(log: dict[str, torch.Tensor], expected: dict[str, float]) -> None:
    assert set(log) == set(expected)
    for key, value in log.items():
        assert isinstance(value, torch.Tensor), key
        assert value.dim() == 0, key
        assert value.dtype == torch.float32, key
        np.testing.assert_allclose(value.item(), expected[key], rtol=1e-5, atol=1e-5, err_msg=key)


def env_ids_as(form: str, ids: np.ndarray, num_envs: int) -> object:
    if form == "list":
        return ids.tolist()
    if form == "int32 tensor":  # what Isaac Lab passes
        return torch.as_tensor(ids, dtype=torch.int32)
    if form == "bool tensor":
        mask = torch.zeros(num_envs, dtype=torch.bool)
        mask[torch.as_tensor(ids, dtype=torch.long)] = True
        return mask
    return ids  # numpy array


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[int, np.ndarray, np.ndarray, np.ndarray | None, list[str]]:
    num_envs = draw(st.integers(1, 5))
    steps = draw(st.integers(0, 30))
    values = draw(
        arrays(
            np.float32,
            (steps, num_envs),
            elements=st.floats(-100, 100, width=32, allow_subnormal=False),
        )
    )
    resets = draw(arrays(np.bool_, (steps, num_envs)))
    masks = draw(st.none() | arrays(np.bool_, (steps, num_envs)))
    forms = draw(
        st.lists(
            st.sampled_from(["list", "int32 tensor", "bool tensor", "numpy"]),
            min_size=steps,
            max_size=steps,
        )
    )
    return num_envs, values, resets, masks, forms


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_every_reduce_and_stat_equals_brute_force(scenario) -> None:
    num_envs, values, resets, masks, forms = scenario
    env = ScriptedEnv(num_envs, value=torch.zeros(num_envs))
    manager = MetricsManager(all_options_cfg(), env)
    assert manager.reset() == {}  # the initial reset: zero-step episodes report nothing
    recorded: list[list[float]] = [[] for _ in range(num_envs)]

    for t in range(values.shape[0]):
        env.value = torch.from_numpy(values[t].copy())
        mask = None if masks is None else torch.from_numpy(masks[t].copy())
        manager.compute(mask)
        for i in range(num_envs):
            if masks is None or masks[t, i]:
                recorded[i].append(float(values[t, i]))
        ids = np.flatnonzero(resets[t])
        log = manager.reset(env_ids_as(forms[t], ids, num_envs))
        ended = [recorded[i] for i in ids if recorded[i]]
        for i in ids:
            recorded[i] = []
        if ended:
            assert_log_matches(log, expected_log(ended))
        else:
            assert log == {}  # a key appears only when a counted episode ended

    ended = [steps for steps in recorded if steps]
    final = manager.reset(None)
    if ended:
        assert_log_matches(final, expected_log(ended))
    else:
        assert final == {}
    assert manager.reset(None) == {}  # everything was cleared: no stale values


@st.composite
def substep_scenarios(draw: st.DrawFn) -> tuple[int, list[list[np.ndarray]], np.ndarray]:
    num_envs = draw(st.integers(1, 4))
    steps = draw(st.integers(1, 12))
    floats = st.floats(-50, 50, width=32, allow_subnormal=False)
    # per step: 0..3 substep values (0 = no substep hook ran), plus the value at compute time
    per_step = [
        [
            draw(arrays(np.float32, (num_envs,), elements=floats))
            for _ in range(draw(st.integers(0, 3)) + 1)
        ]
        for _ in range(steps)
    ]
    resets = draw(arrays(np.bool_, (steps, num_envs)))
    return num_envs, per_step, resets


@settings(max_examples=60, deadline=None)
@given(substep_scenarios())
def test_per_substep_terms_use_the_mean_over_substeps(scenario) -> None:
    num_envs, per_step, resets = scenario
    env = ScriptedEnv(num_envs, value=torch.zeros(num_envs))
    manager = MetricsManager(all_options_cfg(per_substep=True), env)
    recorded: list[list[float]] = [[] for _ in range(num_envs)]
    for t, samples in enumerate(per_step):
        *substeps, at_compute = samples
        for sample in substeps:
            env.value = torch.from_numpy(sample.copy())
            manager.compute_substep()
        env.value = torch.from_numpy(at_compute.copy())
        manager.compute()
        # the step's value: the substeps' mean, or the value at compute() when none ran
        step_value = np.mean(np.stack(substeps), axis=0) if substeps else at_compute
        for i in range(num_envs):
            recorded[i].append(float(step_value[i]))
        ids = np.flatnonzero(resets[t])
        log = manager.reset(ids.tolist())
        ended = [recorded[i] for i in ids]
        for i in ids:
            recorded[i] = []
        if ended:
            assert_log_matches(log, expected_log(ended))
        else:
            assert log == {}


@pytest.mark.parametrize("reduce", REDUCE_OPTIONS)
def test_nan_steps_follow_the_numpy_policy(reduce: str) -> None:
    env = ScriptedEnv(2, value=torch.zeros(2))
    manager = MetricsManager({"x": MetricsTermCfg(func=scripted_value, reduce=reduce)}, env)
    for step in ([np.nan, 1.0], [2.0, 3.0]):
        env.value = torch.tensor(step)
        manager.compute()
    log = manager.reset([0])
    expected = 2.0 if reduce == "last" else float("nan")  # last keeps the last step only
    np.testing.assert_equal(log["Episode_Metrics/x"].item(), expected)
    # env 1 never saw NaN and is unaffected
    assert np.isfinite(manager.reset([1])["Episode_Metrics/x"].item())


@st.composite
def mid_step_reset_scenarios(draw: st.DrawFn) -> tuple[int, list[tuple[Any, ...]]]:
    num_envs = draw(st.integers(1, 4))
    floats = st.floats(-50, 50, width=32, allow_subnormal=False)
    values = arrays(np.float32, (num_envs,), elements=floats)
    steps = []
    for _ in range(draw(st.integers(1, 10))):
        before = [draw(values) for _ in range(draw(st.integers(0, 2)))]
        mid_reset = draw(arrays(np.bool_, (num_envs,)))
        after = [draw(values) for _ in range(draw(st.integers(0, 2)))]
        steps.append((before, mid_reset, after, draw(values), draw(arrays(np.bool_, (num_envs,)))))
    return num_envs, steps


@settings(max_examples=80, deadline=None)
@given(mid_step_reset_scenarios())
def test_a_reset_between_substeps_and_compute_starts_the_envs_substeps_anew(scenario) -> None:
    """Issue 17: a reset between compute_substep() and compute() leaked the old episode's
    substeps into the new one, and substep counts were global, not per env."""
    num_envs, steps = scenario
    env = ScriptedEnv(num_envs, value=torch.zeros(num_envs))
    manager = MetricsManager(all_options_cfg(per_substep=True), env)
    recorded: list[list[float]] = [[] for _ in range(num_envs)]

    def reset(ids: np.ndarray) -> None:
        log = manager.reset(ids.tolist())
        ended = [recorded[i] for i in ids if recorded[i]]
        for i in ids:
            recorded[i] = []
        if ended:
            assert_log_matches(log, expected_log(ended))
        else:
            assert log == {}

    for before, mid_reset, after, at_compute, end_reset in steps:
        for sample in before:
            env.value = torch.from_numpy(sample.copy())
            manager.compute_substep()
        reset(np.flatnonzero(mid_reset))
        for sample in after:
            env.value = torch.from_numpy(sample.copy())
            manager.compute_substep()
        env.value = torch.from_numpy(at_compute.copy())
        manager.compute()
        for i in range(num_envs):
            own = [s[i] for s in after] if mid_reset[i] else [s[i] for s in (*before, *after)]
            recorded[i].append(
                float(np.mean(own, dtype=np.float32)) if own else float(at_compute[i])
            )
        reset(np.flatnonzero(end_reset))


def test_terms_set_to_none_are_turned_off() -> None:
    """Issue 17: mjlab's derived configs turn a term off with cfg.metrics["x"] = None."""
    from pat_env_metrics import NullMetricsManager, make_metrics_manager

    env = ScriptedEnv(2, value=torch.ones(2))
    cfg: dict[str, MetricsTermCfg | None] = {**all_options_cfg(), "mean_term": None}
    manager = MetricsManager(cfg, env)
    assert "mean_term" not in manager.active_terms
    assert len(manager.active_terms) == len(REDUCE_OPTIONS) - 1
    manager.compute()
    assert not any(key.startswith("Episode_Metrics/mean_term") for key in manager.reset(None))
    assert isinstance(make_metrics_manager({"x": None}, env), NullMetricsManager)
