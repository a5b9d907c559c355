"""MetricsManager: validation at construction, logging rules, null manager, class terms."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

from pat_env_metrics import (
    MetricsManager,
    MetricsTermCfg,
    NullMetricsManager,
    make_metrics_manager,
)


@dataclass
class ScriptedEnv:
    num_envs: int = 3
    device: str = "cpu"
    value: torch.Tensor = field(default_factory=lambda: torch.zeros(3))


def scripted_value(env: ScriptedEnv) -> torch.Tensor:
    return env.value


def scaled_value(env: ScriptedEnv, scale: float, offset: float = 0.0) -> torch.Tensor:
    return env.value * scale + offset


def run_steps(manager: MetricsManager, env: ScriptedEnv, rows: list[list[float]]) -> None:
    for row in rows:
        env.value = torch.tensor(row)
        manager.compute()


# --- validation at construction ---------------------------------------------------------


def test_unknown_reduce_names_the_term_and_the_options() -> None:
    with pytest.raises(ValueError, match=r"'speed'.*'median'.*mean, sum, min, max, last, std"):
        MetricsManager(
            {"speed": MetricsTermCfg(func=scripted_value, reduce="median")}, ScriptedEnv()
        )


@pytest.mark.parametrize("stats", [("mean", "variance"), ("p101",), ("p100.5",), ("p",), ()])
def test_bad_episode_stats_name_the_term(stats: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match=r"Metrics term 'speed': .*episode_stats"):
        MetricsManager(
            {"speed": MetricsTermCfg(func=scripted_value, episode_stats=stats)}, ScriptedEnv()
        )


def test_missing_param_names_the_term_and_the_signature() -> None:
    with pytest.raises(TypeError, match=r"'speed'.*missing \['scale'\].*required \['scale'\]"):
        MetricsManager({"speed": MetricsTermCfg(func=scaled_value)}, ScriptedEnv())


def test_unexpected_param_is_rejected() -> None:
    cfg = MetricsTermCfg(func=scaled_value, params={"scale": 1.0, "sclae": 2.0})
    with pytest.raises(TypeError, match=r"'speed'.*unexpected \['sclae'\]"):
        MetricsManager({"speed": cfg}, ScriptedEnv())


def test_a_function_without_an_env_argument_is_rejected() -> None:
    with pytest.raises(TypeError, match=r"'speed'.*env as its first argument"):
        MetricsManager({"speed": MetricsTermCfg(func=lambda: torch.zeros(3))}, ScriptedEnv())


def test_a_non_callable_or_unimportable_func_is_rejected() -> None:
    with pytest.raises(TypeError, match=r"'a': func must be callable"):
        MetricsManager({"a": MetricsTermCfg(func=42)}, ScriptedEnv())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"'b': cannot import func 'nowhere:nothing'"):
        MetricsManager({"b": MetricsTermCfg(func="nowhere:nothing")}, ScriptedEnv())


@pytest.mark.parametrize("output", [torch.zeros(3, 2), torch.zeros(4), torch.tensor(1.0)])
def test_wrong_output_shape_fails_at_construction(output: torch.Tensor) -> None:
    cfg = {"speed": MetricsTermCfg(func=lambda env: output)}
    with pytest.raises(ValueError, match=r"'speed' returned shape .*expected \(3,\)"):
        MetricsManager(cfg, ScriptedEnv())


def test_wrong_output_shape_without_probe_fails_on_first_compute() -> None:
    env = ScriptedEnv()
    manager = MetricsManager({"speed": MetricsTermCfg(func=scripted_value)}, env, probe=False)
    env.value = torch.zeros(3, 1)
    with pytest.raises(ValueError, match=r"'speed' returned shape \(3, 1\)"):
        manager.compute()


def test_output_that_is_no_array_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"'speed' returned object"):
        MetricsManager({"speed": MetricsTermCfg(func=lambda env: object())}, ScriptedEnv())


def test_a_cfg_of_the_wrong_type_is_rejected() -> None:
    with pytest.raises(TypeError, match=r"'speed': expected a MetricsTermCfg, got dict"):
        MetricsManager({"speed": {"func": scripted_value}}, ScriptedEnv())  # type: ignore[dict-item]


def test_term_cfg_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        MetricsTermCfg(scripted_value)  # type: ignore[misc]


# --- logging rules -----------------------------------------------------------------------


def test_values_are_zero_dim_float32_tensors_under_the_prefix() -> None:
    env = ScriptedEnv()
    manager = MetricsManager(
        {"speed": MetricsTermCfg(func=scripted_value, episode_stats=("mean", "max"))},
        env,
        prefix="Custom",
    )
    run_steps(manager, env, [[1.0, 2.0, 3.0], [3.0, 4.0, 5.0]])
    log = manager.reset([0, 2])
    assert set(log) == {"Custom/speed", "Custom/speed/max"}
    assert all(v.dim() == 0 and v.dtype == torch.float32 for v in log.values())
    assert log["Custom/speed"].item() == pytest.approx(3.0)  # mean of the episode means 2 and 4
    assert log["Custom/speed/max"].item() == pytest.approx(4.0)


def test_zero_step_episodes_report_nothing_not_zero_or_inf() -> None:
    env = ScriptedEnv()
    manager = MetricsManager(
        {n: MetricsTermCfg(func=scripted_value, reduce=n) for n in ("max", "min", "sum")}, env
    )
    assert manager.reset() == {}
    assert manager.reset(torch.tensor([0, 1], dtype=torch.int32)) == {}
    run_steps(manager, env, [[5.0, 6.0, 7.0]])
    log = manager.reset([0])
    assert log == {
        "Episode_Metrics/max": pytest.approx(torch.tensor(5.0)),
        "Episode_Metrics/min": pytest.approx(torch.tensor(5.0)),
        "Episode_Metrics/sum": pytest.approx(torch.tensor(5.0)),
    }
    assert manager.reset([0]) == {}  # the same env again, without a step in between


def test_episodes_of_different_lengths_are_not_biased() -> None:
    env = ScriptedEnv()
    manager = MetricsManager({"v": MetricsTermCfg(func=scripted_value)}, env)
    run_steps(manager, env, [[1.0, 10.0, 0.0]])
    manager.reset([0])  # env 0: one-step episode
    run_steps(manager, env, [[3.0, 10.0, 0.0], [3.0, 10.0, 0.0]])
    log = manager.reset([0, 1])
    # env 0 episode: mean 3; env 1 episode: three steps of 10 -> mean 10 (not scaled by length)
    assert log["Episode_Metrics/v"].item() == pytest.approx(6.5)


def test_last_is_cleared_on_reset() -> None:
    env = ScriptedEnv()
    manager = MetricsManager({"success": MetricsTermCfg(func=scripted_value, reduce="last")}, env)
    run_steps(manager, env, [[1.0, 1.0, 1.0]])
    assert manager.reset([0, 1, 2])["Episode_Metrics/success"].item() == 1.0
    run_steps(manager, env, [[0.0, 0.0, 0.0]])
    assert manager.reset([0])["Episode_Metrics/success"].item() == 0.0  # not the stale 1.0


def test_bool_and_numpy_outputs_are_accepted() -> None:
    env = ScriptedEnv()
    cfg = {
        "flag": MetricsTermCfg(func=lambda env: env.value > 1.0, reduce="last"),
        "host": MetricsTermCfg(func=lambda env: np.asarray(env.value) * 2.0),
    }
    manager = MetricsManager(cfg, env)
    run_steps(manager, env, [[0.0, 2.0, 3.0]])
    log = manager.reset()
    assert log["Episode_Metrics/flag"].item() == pytest.approx(2 / 3)
    assert log["Episode_Metrics/host"].item() == pytest.approx(10 / 3)


def test_params_and_defaults_are_passed_and_the_users_cfg_is_not_changed() -> None:
    env = ScriptedEnv()
    cfg = {"v": MetricsTermCfg(func=scaled_value, params={"scale": 2.0})}
    manager = MetricsManager(cfg, env)
    assert cfg["v"].params == {"scale": 2.0}
    assert manager.cfg["v"].params == {"scale": 2.0, "offset": 0.0}
    run_steps(manager, env, [[1.0, 1.0, 1.0]])
    assert manager.reset()["Episode_Metrics/v"].item() == pytest.approx(2.0)


@dataclass
class ArrayEnv(ScriptedEnv):
    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        return self.value.numpy()


def test_func_may_be_an_import_string() -> None:
    env = ArrayEnv()
    manager = MetricsManager({"v": MetricsTermCfg(func="numpy:asarray")}, env)
    run_steps(manager, env, [[1.0, 2.0, 6.0]])
    assert manager.reset()["Episode_Metrics/v"].item() == pytest.approx(3.0)


class counting_term:  # noqa: N801 - stateful terms are lowercase callable classes by convention
    """A stateful term: the number of steps since its env's last reset."""

    def __init__(self, cfg: MetricsTermCfg, env: ScriptedEnv) -> None:
        self.step = cfg.params["step"]
        self.count = torch.zeros(env.num_envs)
        self.resets: list[object] = []

    def __call__(self, env: ScriptedEnv, step: float) -> torch.Tensor:
        self.count += step
        return self.count.clone()

    def reset(self, env_ids: object) -> None:
        self.resets.append(env_ids)
        self.count[torch.as_tensor(env_ids, dtype=torch.long)] = 0.0


def test_class_terms_are_instantiated_once_and_reset() -> None:
    env = ScriptedEnv()
    cfg = {"n": MetricsTermCfg(func=counting_term, params={"step": 1.0}, reduce="max")}
    manager = MetricsManager(cfg, env, probe=False)
    term = manager._terms[0].call
    assert isinstance(term, counting_term)
    for _ in range(3):
        manager.compute()
    assert manager.reset([1])["Episode_Metrics/n"].item() == 3.0
    assert term.resets == [[1]]
    manager.compute()
    log = manager.reset([0, 1])
    assert log["Episode_Metrics/n"].item() == pytest.approx((4.0 + 1.0) / 2)


def test_a_class_term_with_a_bad_signature_is_rejected() -> None:
    with pytest.raises(TypeError, match=r"'n'.*missing \['step'\]"):
        MetricsManager({"n": MetricsTermCfg(func=counting_term)}, ScriptedEnv())


# --- manager surface ---------------------------------------------------------------------


def test_active_terms_and_table() -> None:
    cfg = {
        "joint_vel": MetricsTermCfg(
            func=scripted_value, reduce="max", episode_stats=("mean", "p90")
        ),
        "contact": MetricsTermCfg(func=scripted_value, per_substep=True),
    }
    manager = MetricsManager(cfg, ScriptedEnv())
    assert manager.active_terms == ["joint_vel", "contact"]
    assert manager.per_substep_terms == ["contact"]
    table = str(manager)
    assert "Active Metrics Terms (2" in table
    lines = table.splitlines()
    assert any("joint_vel" in line and "max" in line and "mean, p90" in line for line in lines)
    assert any("contact" in line and "yes" in line for line in lines)


def test_empty_cfg_gives_the_null_manager_which_does_nothing() -> None:
    env = ScriptedEnv()
    for cfg in (None, {}):
        manager = make_metrics_manager(cfg, env)
        assert isinstance(manager, NullMetricsManager)
        assert manager.active_terms == []
        assert manager.compute() is None
        assert manager.compute_substep() is None
        assert manager.reset([0]) == {}
        assert "no metrics terms" in str(manager)
    assert isinstance(
        make_metrics_manager({"v": MetricsTermCfg(func=scripted_value)}, env), MetricsManager
    )
