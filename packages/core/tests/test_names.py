"""Metric names: every key MLflow accepts (checked with MLflow's own validator), readable keys."""

from __future__ import annotations

import doctest
import hashlib
import os
import subprocess
import sys
import warnings
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mlflow import MlflowClient
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException
from mlflow.utils import validation as mlflow_validation

import pat_core.names
from pat_core import (
    MAX_KEY_LENGTH,
    KeyCollisionWarning,
    MetricNameMapper,
    is_valid_mlflow_key,
    to_mlflow_key,
)

if TYPE_CHECKING:
    from pathlib import Path


def mlflow_accepts(key: str) -> bool:
    """MLflow's own client-side check of a metric (name rules and length limit)."""
    try:
        mlflow_validation._validate_metric(key, 0.0, 0, 0)
        mlflow_validation._validate_param_name(key)
    except MlflowException:
        return False
    return True


def assert_portable_key(key: str) -> None:
    assert mlflow_accepts(key), key
    assert is_valid_mlflow_key(key), key
    # Stricter than MLflow on Linux: what a Windows server and any backend accept.
    assert key.isascii(), key
    assert ":" not in key, key
    assert " " not in key, key
    assert to_mlflow_key(key) == key, key


# Every tag skrl 2.1.1 tracks (grep of `track_data` in its torch and jax agents), the
# multi-agent `(uid)` forms, skrl's literal "({uid})" typo in jax IPPO/MAPPO, and env
# info tags as skrl's trainer names them (Isaac Lab `extras["log"]`).
SKRL_TAGS = {
    "Reward / Instantaneous reward (max)": "Reward/Instantaneous_reward_max",
    "Reward / Instantaneous reward (min)": "Reward/Instantaneous_reward_min",
    "Reward / Instantaneous reward (mean)": "Reward/Instantaneous_reward_mean",
    "Reward / Total reward (max)": "Reward/Total_reward_max",
    "Reward / Total reward (min)": "Reward/Total_reward_min",
    "Reward / Total reward (mean)": "Reward/Total_reward_mean",
    "Episode / Total timesteps (max)": "Episode/Total_timesteps_max",
    "Episode / Total timesteps (min)": "Episode/Total_timesteps_min",
    "Episode / Total timesteps (mean)": "Episode/Total_timesteps_mean",
    "Stats / Inference time (ms)": "Stats/Inference_time_ms",
    "Stats / Env stepping time (ms)": "Stats/Env_stepping_time_ms",
    "Stats / Algorithm update time (ms)": "Stats/Algorithm_update_time_ms",
    "Loss / Policy loss": "Loss/Policy_loss",
    "Loss / Value loss": "Loss/Value_loss",
    "Loss / Entropy loss": "Loss/Entropy_loss",
    "Loss / Critic loss": "Loss/Critic_loss",
    "Loss / Q-network loss": "Loss/Q-network_loss",
    "Loss / Discriminator loss": "Loss/Discriminator_loss",
    "Policy / Standard deviation": "Policy/Standard_deviation",
    "Learning / Learning rate": "Learning/Learning_rate",
    "Learning / Policy learning rate": "Learning/Policy_learning_rate",
    "Learning / Critic learning rate": "Learning/Critic_learning_rate",
    "Learning / Value learning rate": "Learning/Value_learning_rate",
    "Q-network / Q1 (max)": "Q-network/Q1_max",
    "Q-network / Q1 (min)": "Q-network/Q1_min",
    "Q-network / Q1 (mean)": "Q-network/Q1_mean",
    "Q-network / Q2 (max)": "Q-network/Q2_max",
    "Q-network / Q2 (min)": "Q-network/Q2_min",
    "Q-network / Q2 (mean)": "Q-network/Q2_mean",
    "Target / Target (max)": "Target/Target_max",
    "Target / Target (min)": "Target/Target_min",
    "Target / Target (mean)": "Target/Target_mean",
    "Exploration / Exploration noise (max)": "Exploration/Exploration_noise_max",
    "Exploration / Exploration noise (min)": "Exploration/Exploration_noise_min",
    "Exploration / Exploration noise (mean)": "Exploration/Exploration_noise_mean",
    "Exploration / Exploration epsilon": "Exploration/Exploration_epsilon",
    "Coefficient / Entropy coefficient": "Coefficient/Entropy_coefficient",
    "Coefficient / Return threshold": "Coefficient/Return_threshold",
    "Coefficient / Mean discounted returns": "Coefficient/Mean_discounted_returns",
    "Loss / Policy loss (agent_0)": "Loss/Policy_loss_agent_0",
    "Loss / Policy loss (agent_1)": "Loss/Policy_loss_agent_1",
    "Loss / Value loss (agent_0)": "Loss/Value_loss_agent_0",
    "Loss / Entropy loss (agent_0)": "Loss/Entropy_loss_agent_0",
    "Policy / Standard deviation (agent_0)": "Policy/Standard_deviation_agent_0",
    "Learning / Learning rate (agent_0)": "Learning/Learning_rate_agent_0",
    "Learning / Policy learning rate ({uid})": "Learning/Policy_learning_rate_uid",
    "Learning / Value learning rate ({uid})": "Learning/Value_learning_rate_uid",
    "Info / Episode_Reward/alive": "Info/Episode_Reward/alive",
    "Info / reward_alive": "Info/reward_alive",
    "Episode_Reward/alive": "Episode_Reward/alive",
    "Episode_Termination/time_out": "Episode_Termination/time_out",
    "Metrics/base_velocity/error_vel_xy": "Metrics/base_velocity/error_vel_xy",
    "Episode_Metrics/joint_vel_l1": "Episode_Metrics/joint_vel_l1",
}


@pytest.mark.parametrize(("tag", "expected"), SKRL_TAGS.items())
def test_skrl_tags_map_to_readable_keys(tag: str, expected: str) -> None:
    assert to_mlflow_key(tag) == expected
    assert_portable_key(expected)


def test_skrl_tags_do_not_collide() -> None:
    mapper = MetricNameMapper()
    with warnings.catch_warnings():
        warnings.simplefilter("error", KeyCollisionWarning)
        keys = [mapper.key(tag) for tag in SKRL_TAGS]
    assert keys == list(SKRL_TAGS.values())
    assert len(set(keys)) == len(keys)
    assert mapper.collisions == []
    assert mapper.mapping == SKRL_TAGS


def test_raw_skrl_tags_are_rejected_by_mlflow() -> None:
    # The defect pat exists to fix: skrl's tags break MLflow's rules.
    assert not mlflow_accepts("Reward / Total reward (mean)")
    assert not is_valid_mlflow_key("Reward / Total reward (mean)")


def test_max_key_length_is_mlflows() -> None:
    assert MAX_KEY_LENGTH == mlflow_validation.MAX_ENTITY_KEY_LENGTH


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("", "unnamed"),
        ("   ", "unnamed"),
        ("\t\n", "unnamed"),
        ("()", "unnamed"),
        ("/", "unnamed"),
        ("...", "unnamed"),
        ("./..", "unnamed"),
        ("a//b", "a/b"),
        ("/a/b/", "a/b"),
        ("a/./b", "a/b"),
        ("a/../b", "a/b"),
        ("a / / b", "a/b"),
        ("..a/b", "a/b"),
        ("...a", "a"),
        (".hidden/x", ".hidden/x"),
        ("a/.b", "a/.b"),
        ("a/..b", "a/..b"),
        ("v1.2-rc_3", "v1.2-rc_3"),
        ("Loss  /  Policy   loss", "Loss/Policy_loss"),
        ("x:y", "x_y"),
        ("a\tb\nc", "a_b_c"),
        ("100%", "100"),
        ("loss@step[3]", "loss_step_3"),
        ("Reward 🚀 (mean)", "Reward_mean"),
        ("Größe", "Grosse"),
        ("café crème", "cafe_creme"),
        ("Ærø", "AEro"),
        ("µs per step", "us_per_step"),
        ("ﬁle", "file"),
        ("\uff2c\uff4f\uff53\uff53\uff0f\uff58", "Loss/x"),  # full-width "Loss/x"
        ("x²", "x2"),
        ("\x00a\x7fb", "a_b"),
        ("unnamed", "unnamed"),
    ],
)
def test_readable_keys(tag: str, expected: str) -> None:
    assert to_mlflow_key(tag) == expected
    assert_portable_key(expected)


def test_untransliterable_letters_keep_distinct_keys() -> None:
    chinese_loss, chinese_reward = to_mlflow_key("损失"), to_mlflow_key("奖励")
    assert chinese_loss != chinese_reward
    assert chinese_loss.startswith("unnamed_")
    greek = to_mlflow_key("Loss/λ (mean)")
    assert greek.startswith("Loss/mean_")
    assert greek != to_mlflow_key("Loss/mean")
    for key in (chinese_loss, chinese_reward, greek):
        assert_portable_key(key)


def test_lone_surrogate_is_handled() -> None:
    assert_portable_key(to_mlflow_key("a\ud800b"))


def test_long_keys_are_cut_with_a_hash_and_stay_distinct() -> None:
    exact = "a" * MAX_KEY_LENGTH
    assert to_mlflow_key(exact) == exact
    first, second = "x" * 300 + "1", "x" * 300 + "2"
    key1, key2 = to_mlflow_key(first), to_mlflow_key(second)
    assert key1 != key2
    assert len(key1) == len(key2) == MAX_KEY_LENGTH
    assert key1.startswith("x" * 200)
    for key in (key1, key2, to_mlflow_key("x" * (MAX_KEY_LENGTH + 1))):
        assert_portable_key(key)
    # Cut right after a "/": the hash becomes its own segment.
    slashy = "y" * 240 + "/" + "z" * 50
    assert_portable_key(to_mlflow_key(slashy))


def test_rejects_non_strings() -> None:
    with pytest.raises(TypeError, match="str"):
        to_mlflow_key(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        ("Loss/Policy_loss", True),
        ("Loss/Policy loss", True),
        ("a.b-c_d", True),
        ("", False),
        ("a" * 251, False),
        ("a:b", False),
        ("a(b)", False),
        ("a//b", False),
        ("/a", False),
        ("a/", False),
        (".", False),
        ("..", False),
        ("..a", False),
        ("a/./b", False),
        ("a/../b", False),
        ("a\n", False),
        ("é", False),
        (None, False),
    ],
)
def test_is_valid_mlflow_key(key: str, valid: bool) -> None:
    assert is_valid_mlflow_key(key) is valid
    if valid:
        assert mlflow_accepts(key)


# Text built from the characters that matter to the rules, plus any unicode.
tricky_piece = st.one_of(
    st.sampled_from(["/", " ", ".", "..", "//", "(mean)", "(agent_0)", ":", "\t", "\n", "\x00"]),
    st.sampled_from(["\\", "%", "@", "#", "[", "]", "-", "_", "a", "Z", "0", "é", "ß", "🚀"]),
    st.characters(),
)
tricky_text = st.lists(tricky_piece, max_size=30).map("".join)
any_tag = st.one_of(st.text(), tricky_text, st.text(min_size=240, max_size=400))


@settings(max_examples=400, deadline=None)
@given(any_tag)
def test_every_key_is_accepted_by_mlflow_and_idempotent(tag: str) -> None:
    key = to_mlflow_key(tag)
    assert_portable_key(key)
    assert to_mlflow_key(tag) == key


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab/. _-:")), max_size=12))
def test_is_valid_mlflow_key_agrees_with_mlflow(text: str) -> None:
    # On this alphabet the only difference from MLflow (Linux) is that ':' is refused.
    expected = mlflow_accepts(text) and ":" not in text
    assert is_valid_mlflow_key(text) is expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(any_tag, st.text(alphabet="a /().", max_size=5)), max_size=10))
def test_mapper_keys_are_valid_and_distinct(tags: list[str]) -> None:
    mapper = MetricNameMapper()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KeyCollisionWarning)
        keys = {tag: mapper.key(tag) for tag in tags}
    assert len(set(keys.values())) == len(keys)
    for key in keys.values():
        assert mlflow_accepts(key)
        assert is_valid_mlflow_key(key)
    assert mapper.mapping == keys


STATS = ("mean", "std", "min", "max", "p90", "p99.9", "count")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(any_tag, st.text(alphabet="a /().", max_size=5)), max_size=8))
def test_derived_keys_are_valid_distinct_and_keep_their_statistic(tags: list[str]) -> None:
    mapper = MetricNameMapper()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KeyCollisionWarning)
        base = {tag: mapper.key(tag) for tag in tags}
        derived = {(tag, stat): mapper.derived_key(tag, stat) for tag in tags for stat in STATS}
    every = [*base.values(), *derived.values()]
    assert len(set(every)) == len(every)  # no derived key takes a base key or another's
    for (tag, stat), key in derived.items():
        assert mlflow_accepts(key)
        assert is_valid_mlflow_key(key)
        assert key.endswith("/" + to_mlflow_key(stat)) or "_" in key.rsplit("/", 1)[-1]
        assert mapper.derived_key(tag, stat) == key  # the same key every time
    assert mapper.mapping == base  # statistics are not tags


def test_a_derived_key_over_the_limit_is_cut_before_its_statistic() -> None:
    mapper = MetricNameMapper()
    tag = "x" * MAX_KEY_LENGTH
    key = mapper.derived_key(tag, "p90")
    assert len(key) == MAX_KEY_LENGTH
    assert key.endswith("/p90")
    assert mapper.derived_key(tag[:-1] + "y", "p90") != key
    assert mapper.derived_key("Loss / x", "std") == "Loss/x/std"


def test_a_tag_whose_key_equals_a_derived_key_gets_another() -> None:
    mapper = MetricNameMapper()
    assert mapper.derived_key("Loss / x", "std") == "Loss/x/std"
    with pytest.warns(KeyCollisionWarning, match="Loss/x/std"):
        assert mapper.key("Loss / x / std") != "Loss/x/std"


def test_keys_are_the_same_in_another_process() -> None:
    tags = ["Loss / x", "损失", "x" * 300, "Reward / Total reward (mean)"]
    code = (
        "import sys; from pat_core import to_mlflow_key; "
        "print('\\n'.join(to_mlflow_key(t) for t in sys.argv[1:]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *tags],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "12345", "PYTHONIOENCODING": "utf-8"},
    ).stdout
    assert out.splitlines() == [to_mlflow_key(t) for t in tags]


def test_mapper_caches_and_returns_copies() -> None:
    mapper = MetricNameMapper()
    assert mapper.key("Loss / Policy loss") == "Loss/Policy_loss"
    assert mapper.key("Loss / Policy loss") == "Loss/Policy_loss"
    mapping = mapper.mapping
    mapping["other"] = "x"
    assert mapper.mapping == {"Loss / Policy loss": "Loss/Policy_loss"}
    mapper.collisions.append(("a", "b", "c"))
    assert mapper.collisions == []


def _suffix(tag: str) -> str:
    return "_" + hashlib.blake2b(tag.encode(), digest_size=4).hexdigest()


def test_collision_gets_deterministic_suffix_and_one_warning() -> None:
    mapper = MetricNameMapper()
    assert mapper.key("Loss/x") == "Loss/x"
    with pytest.warns(KeyCollisionWarning, match=r"'Loss/x' and 'Loss / x'") as record:
        resolved = mapper.key("Loss / x")
    assert len(record) == 1
    assert resolved == "Loss/x" + _suffix("Loss / x")
    assert_portable_key(resolved)
    with warnings.catch_warnings():
        warnings.simplefilter("error", KeyCollisionWarning)
        assert mapper.key("Loss / x") == resolved  # cached: no second warning
        assert mapper.key("Loss/x") == "Loss/x"
    assert mapper.collisions == [("Loss / x", "Loss/x", resolved)]

    with pytest.warns(KeyCollisionWarning):
        third = mapper.key("Loss  /  x")
    assert third == "Loss/x" + _suffix("Loss  /  x")
    assert third != resolved
    again = MetricNameMapper()
    with pytest.warns(KeyCollisionWarning):
        assert [again.key(t) for t in ("Loss/x", "Loss / x")] == ["Loss/x", resolved]


def test_collision_on_a_full_length_key_stays_within_the_limit() -> None:
    long_a, long_b = "k" * MAX_KEY_LENGTH, "k" * MAX_KEY_LENGTH + " "
    mapper = MetricNameMapper()
    mapper.key(long_a)
    with pytest.warns(KeyCollisionWarning):
        resolved = mapper.key(long_b)
    assert len(resolved) == MAX_KEY_LENGTH
    assert resolved != long_a
    assert_portable_key(resolved)


def test_collision_with_a_taken_suffixed_key_still_resolves() -> None:
    squatter = "Loss/x" + _suffix("Loss / x")
    mapper = MetricNameMapper()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KeyCollisionWarning)
        keys = [mapper.key(t) for t in (squatter, "Loss/x", "Loss / x")]
    assert keys[:2] == [squatter, "Loss/x"]
    assert keys[2] not in keys[:2]
    assert_portable_key(keys[2])


def test_aliases() -> None:
    mapper = MetricNameMapper(
        {
            "Reward / Total reward (mean)": "reward",
            "Loss / Policy loss": "My policy loss",  # valid for MLflow: kept as given
            "Loss / Value loss": "value loss (mean)",  # invalid: made valid
        }
    )
    assert mapper.key("Reward / Total reward (mean)") == "reward"
    assert mapper.key("Loss / Policy loss") == "My policy loss"
    assert mapper.key("Loss / Value loss") == "value_loss_mean"
    assert mapper.key("Loss / Critic loss") == "Loss/Critic_loss"
    assert mapper.aliases["Loss / Value loss"] == "value_loss_mean"
    assert mlflow_accepts("My policy loss")


def test_alias_targets_are_reserved_for_their_tag() -> None:
    mapper = MetricNameMapper({"custom tag": "Loss/x"})
    with pytest.warns(KeyCollisionWarning):
        other = mapper.key("Loss / x")  # seen first, but "Loss/x" belongs to the alias
    assert other != "Loss/x"
    assert mapper.key("custom tag") == "Loss/x"


@pytest.mark.parametrize(
    ("aliases", "error", "match"),
    [
        ({"a": "k", "b": "k"}, ValueError, "'a' and 'b' both map to the key 'k'"),
        ({"a": "k (x)", "b": "k_x"}, ValueError, "both map to the key 'k_x'"),
        ({"a": 3}, TypeError, "str to str"),
    ],
)
def test_bad_aliases(aliases: dict[str, str], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        MetricNameMapper(aliases)


def test_keys_round_trip_through_a_real_mlflow_store(tmp_path: Path) -> None:
    tags = [*SKRL_TAGS, "Loss/Policy_loss", "损失", "a\ud800b", "x" * 300 + "/(max)", "../a:b"]
    mapper = MetricNameMapper()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KeyCollisionWarning)
        keys = {mapper.key(tag): float(i) for i, tag in enumerate(tags)}
    assert len(keys) == len(tags)
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("names", artifact_location=str(tmp_path / "art"))
    run_id = client.create_run(experiment).info.run_id
    client.log_batch(run_id, metrics=[Metric(k, v, 0, 0) for k, v in keys.items()])
    assert client.get_run(run_id).data.metrics == keys


def test_docstring_examples() -> None:
    result = doctest.testmod(pat_core.names)
    assert result.attempted > 0
    assert result.failed == 0
