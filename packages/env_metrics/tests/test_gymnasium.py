"""RecordEpisodeMetrics on real gymnasium vector envs, under next-step and same-step autoreset."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pat_env_metrics import MetricsTermCfg
from pat_env_metrics.gymnasium import RecordEpisodeMetrics, StepView, make_vector_env

NUM_ENVS = 4
MODES = [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP]
ENVS = [("CartPole-v1", 2), ("InvertedPendulum-v5", 1)]  # (id, index of the pole angle in obs)


def angle_abs(step: StepView, index: int) -> np.ndarray:
    return np.abs(step.obs[:, index])


def ones(step: StepView) -> np.ndarray:
    return np.ones(step.num_envs)


def reward(step: StepView) -> np.ndarray:
    return step.reward


def terminated(step: StepView) -> np.ndarray:
    return step.terminated


def cartpole_out_of_bounds(step: StepView) -> np.ndarray:
    """CartPole's own termination rule, read from the observation the term sees."""
    return (np.abs(step.obs[:, 0]) > 2.4) | (np.abs(step.obs[:, 2]) > 12 * 2 * np.pi / 360)


def make_env(env_id: str, mode: AutoresetMode, metrics: dict[str, MetricsTermCfg]) -> gym.Env:
    env = gym.make_vec(
        env_id, num_envs=NUM_ENVS, vectorization_mode="sync", vector_kwargs={"autoreset_mode": mode}
    )
    return RecordEpisodeMetrics(gym.wrappers.vector.RecordEpisodeStatistics(env), metrics)


def value(log: dict[str, torch.Tensor], key: str) -> float:
    tensor = log[f"Episode_Metrics/{key}"]
    assert tensor.dim() == 0
    assert tensor.dtype == torch.float32
    return tensor.item()


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
@pytest.mark.parametrize(("env_id", "angle_index"), ENVS)
def test_episode_values_equal_brute_force_and_gymnasium_statistics(
    env_id: str, angle_index: int, mode: AutoresetMode
) -> None:
    metrics = {
        "angle_abs": MetricsTermCfg(
            func=angle_abs, params={"index": angle_index}, episode_stats=("mean", "max", "p50")
        ),
        "length": MetricsTermCfg(func=ones, reduce="sum", episode_stats=("mean", "min", "max")),
        "return": MetricsTermCfg(func=reward, reduce="sum"),
        "terminated": MetricsTermCfg(func=terminated, reduce="last"),
    }
    env = make_env(env_id, mode, metrics)
    env.action_space.seed(1)
    _, info = env.reset(seed=1)
    assert "log" not in info  # nothing has been stepped yet

    current: list[list[tuple[float, float, bool]]] = [[] for _ in range(NUM_ENVS)]
    resetting = np.zeros(NUM_ENVS, dtype=bool)
    logs = 0
    for _ in range(250):
        obs, rew, term, trunc, info = env.step(env.action_space.sample())
        done = term | trunc
        ended = []
        for i in range(NUM_ENVS):  # brute force, one env at a time
            if mode is AutoresetMode.NEXT_STEP and resetting[i]:
                continue  # the reset transition of next-step autoreset
            seen = info["final_obs"][i] if mode is AutoresetMode.SAME_STEP and done[i] else obs[i]
            current[i].append((abs(float(seen[angle_index])), float(rew[i]), bool(term[i])))
            if done[i]:
                ended.append(current[i])
                current[i] = []
        resetting = done
        if not ended:
            assert "log" not in info
            continue
        logs += 1
        log = info["log"]
        episode_angles = np.array([np.mean([s[0] for s in ep]) for ep in ended])
        assert value(log, "angle_abs") == pytest.approx(episode_angles.mean(), rel=1e-5)
        assert value(log, "angle_abs/max") == pytest.approx(episode_angles.max(), rel=1e-5)
        assert value(log, "angle_abs/p50") == pytest.approx(np.median(episode_angles), rel=1e-5)
        assert value(log, "terminated") == pytest.approx(np.mean([ep[-1][2] for ep in ended]))
        # gymnasium's own RecordEpisodeStatistics agrees on lengths and returns
        lengths = info["episode"]["l"][info["_episode"]]
        returns = info["episode"]["r"][info["_episode"]]
        assert sorted(lengths) == sorted(len(ep) for ep in ended)
        assert value(log, "length") == pytest.approx(lengths.mean())
        assert value(log, "length/min") == lengths.min()
        assert value(log, "length/max") == lengths.max()
        assert value(log, "return") == pytest.approx(returns.mean(), rel=1e-5)
    assert logs >= 5
    env.close()


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
def test_terms_see_the_terminal_observation(mode: AutoresetMode) -> None:
    metrics = {
        "out_of_bounds": MetricsTermCfg(func=cartpole_out_of_bounds, reduce="last"),
        "terminated": MetricsTermCfg(func=terminated, reduce="last"),
    }
    env = make_env("CartPole-v1", mode, metrics)
    env.action_space.seed(2)
    env.reset(seed=2)
    checked = 0
    for _ in range(200):
        *_, info = env.step(env.action_space.sample())
        if "log" in info:
            # an episode ends terminated exactly when its last observation is out of bounds
            log = info["log"]
            assert value(log, "out_of_bounds") == value(log, "terminated")
            checked += 1
    assert checked >= 5
    env.close()


def test_disabled_autoreset_and_reset_report_episodes_in_progress() -> None:
    metrics = {"length": MetricsTermCfg(func=ones, reduce="sum")}
    env = make_env("CartPole-v1", AutoresetMode.DISABLED, metrics)
    env.action_space.seed(3)
    env.reset(seed=3)
    lengths = np.zeros(NUM_ENVS)
    while True:
        *_, term, trunc, info = env.step(env.action_space.sample())
        lengths += 1
        done = term | trunc
        if done.any():
            break
    assert value(info["log"], "length") == pytest.approx(lengths[done].mean())
    _, info = env.reset(options={"reset_mask": done})
    assert "log" not in info  # those episodes were already reported when they ended
    lengths[done] = 0
    env.step(np.zeros(NUM_ENVS, dtype=np.int64))
    lengths += 1
    _, info = env.reset()  # ends every episode in progress
    assert value(info["log"], "length") == pytest.approx(lengths.mean())
    env.close()


def test_empty_metrics_pass_every_step_through_untouched() -> None:
    plain = gym.make_vec("CartPole-v1", num_envs=NUM_ENVS, vectorization_mode="sync")
    wrapped = RecordEpisodeMetrics(
        gym.make_vec("CartPole-v1", num_envs=NUM_ENVS, vectorization_mode="sync"), {}
    )
    obs_a, _ = plain.reset(seed=4)
    obs_b, _ = wrapped.reset(seed=4)
    np.testing.assert_array_equal(obs_a, obs_b)
    for step in range(60):
        action = np.full(NUM_ENVS, step % 2)
        a, b = plain.step(action), wrapped.step(action)
        for x, y in zip(a[:4], b[:4], strict=True):
            np.testing.assert_array_equal(x, y)
        assert "log" not in b[4]
    plain.close()
    wrapped.close()


def test_metric_config_errors_surface_when_wrapping() -> None:
    env = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
    with pytest.raises(ValueError, match=r"'angle'.*unknown reduce 'avg'"):
        RecordEpisodeMetrics(env, {"angle": MetricsTermCfg(func=ones, reduce="avg")})
    env.close()


def test_make_vector_env_is_trainable_float32_same_step_and_seeded() -> None:
    # InvertedPendulum-v5 (MuJoCo) observes float64: cast for float32 policies
    made = [
        make_vector_env("InvertedPendulum-v5", 2, seed=3, metrics={"angle": MetricsTermCfg(
            func=angle_abs, params={"index": 1})}) for _ in range(2)
    ]  # fmt: skip
    env, twin = made
    assert env.single_observation_space.dtype == np.float32
    assert env.observation_space.shape == (2, 4)
    actions = np.zeros((2, 1), dtype=np.float32)
    logged = None
    for _ in range(200):
        obs, _, terminated, truncated, info = env.step(actions)
        twin_obs, *_ = twin.step(actions)
        assert obs.dtype == np.float32
        np.testing.assert_array_equal(obs, twin_obs)  # the same seed: the same episodes
        if (terminated | truncated).any():
            logged = info["log"]
            # same-step autoreset: the ended env's returned observation is already the reset one
            assert np.abs(obs[terminated | truncated, 1]).max() < 0.2
            break
    assert logged is not None
    assert "Episode_Metrics/angle" in logged
    assert float(logged["Episode_Metrics/angle"]) > 0


def test_make_vector_env_closes_the_env_on_a_bad_term() -> None:
    with pytest.raises(ValueError, match="reduce"):
        make_vector_env("CartPole-v1", 2, metrics={"x": MetricsTermCfg(func=ones, reduce="median")})


@settings(max_examples=100, deadline=None)
@given(
    obs=hnp.arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(3, 5)),
                   elements=st.floats(-1e6, 1e6)),
    actions=st.integers(1, 3),
    as_tensor=st.booleans(),
)  # fmt: skip
def test_the_ready_made_terms_match_numpy(obs, actions, as_tensor):
    """pat_env_metrics.gymnasium.terms (the pat CLI's task terms) against numpy, any input type."""
    from pat_env_metrics.gymnasium import terms

    num_envs = obs.shape[0]
    action = obs[:, :actions] * 0.5
    step = StepView(
        env=None, num_envs=num_envs, device=torch.device("cpu"),
        obs=torch.as_tensor(obs) if as_tensor else obs,
        action=torch.as_tensor(action) if as_tensor else action,
    )  # fmt: skip
    np.testing.assert_allclose(terms.observation_abs(step, index=2), np.abs(obs[:, 2]))
    np.testing.assert_allclose(terms.action_abs(step), np.abs(action).mean(axis=1))
    np.testing.assert_allclose(
        terms.angle_from_cos_sin_abs(step), np.abs(np.arctan2(obs[:, 1], obs[:, 0]))
    )
