"""Bad values and key explosions never crash training; what the sqlite store makes of them."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from pat_skrl_mlflow import instrument
from pat_skrl_mlflow.window._pipeline import MAX_METRIC_TAGS, MetricLimitWarning
from skrl_mlflow_support import (
    metric_histories,
    ppo_runner,
)

pytestmark = pytest.mark.reliability

TIMESTEPS = 64
BAD_AT = 20


def _runner(tmp_path):  # type: ignore[no-untyped-def]
    return ppo_runner(str(tmp_path / "runs"), num_envs=4, timesteps=TIMESTEPS)


def _inject(agent, values):  # type: ignore[no-untyped-def]
    """Track ``values`` (tag -> value) in the window of step BAD_AT."""
    original = agent.post_interaction

    def post_interaction(*, timestep: int, timesteps: int) -> None:
        if timestep + 1 == BAD_AT:
            for tag, value in values.items():
                agent.track_data(tag, value)
        original(timestep=timestep, timesteps=timesteps)

    agent.post_interaction = post_interaction


def test_nan_inf_strings_none_nested_lists_and_huge_tensors_never_crash(tmp_path, store):
    runner = _runner(tmp_path)
    _inject(
        runner.agent,
        {
            "Bad / nan": math.nan,
            "Bad / inf": math.inf,
            "Bad / minus inf": -math.inf,
            "Bad / text": "not a number",
            "Bad / none": None,
            "Bad / nested": [[1.0, 2.0], [3.0, [4.0]]],
            "Bad / huge": torch.randn(4_000_000),
            "Bad / (weird) name %@": 1.0,
        },
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with instrument(runner.agent, interval=10, tracking_uri=store, log_config=False) as handle:
            runner.run()
    summary = handle.summary()
    histories = metric_histories(store, handle.run_id)
    assert summary.points_rejected == 0
    assert summary.points_failed == 0
    assert "policy_loss" in histories  # training went on and its metrics were stored
    values = {key: dict(steps) for key, steps in histories.items() if key.startswith("Bad")}
    assert math.isnan(values["Bad/nan"][BAD_AT])
    # sqlite turns +-inf into the largest finite doubles (documented in docs/reliability.md)
    assert values["Bad/inf"][BAD_AT] == pytest.approx(1.7976931348623157e308)
    assert values["Bad/minus_inf"][BAD_AT] == pytest.approx(-1.7976931348623157e308)
    assert {"Bad/huge/mean", "Bad/huge/std", "Bad/huge/min", "Bad/huge/max"} <= set(values)
    assert abs(values["Bad/huge/mean"][BAD_AT]) < 0.01
    assert any(key.startswith("Bad/weird_name") for key in values)  # mapped, not rejected
    assert "Bad / text" in summary.skipped_tags
    assert "Bad / none" in summary.skipped_tags


def test_ten_thousand_env_info_keys_are_capped_with_one_warning(tmp_path, store):
    runner = _runner(tmp_path)
    _inject(runner.agent, {f"Info / object_{i}": float(i) for i in range(10_000)})
    handle = instrument(runner.agent, interval=10, tracking_uri=store, log_config=False)
    with pytest.warns(MetricLimitWarning) as caught:
        runner.run()
    handle.close()
    assert len([w for w in caught if issubclass(w.category, MetricLimitWarning)]) == 1
    assert str(MAX_METRIC_TAGS) in str(caught[0].message)
    histories = metric_histories(store, handle.run_id)
    assert len(histories) <= MAX_METRIC_TAGS
    assert "policy_loss" in histories  # skrl's own metrics came first and are kept
    assert handle.summary().points_rejected == 0
