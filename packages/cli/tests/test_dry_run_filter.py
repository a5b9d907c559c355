"""`pat dry-run filter`: logged vs dropped names and the patterns that match nothing."""

from __future__ import annotations

import json

import pytest

SKRL_PPO_KEYS = [
    "episode_reward_mean",
    "episode_reward_min",
    "episode_reward_max",
    "episode_length_mean",
    "policy_loss",
    "value_loss",
    "learning_rate",
    "Episode_Reward/alive",
]


@pytest.fixture
def keys_file(tmp_path):
    path = tmp_path / "keys.txt"
    path.write_text("\n".join(SKRL_PPO_KEYS) + "\n\n")
    return path


def dry_run(invoke, *args):
    result = invoke("dry-run", "filter", *args)
    payload = json.loads(result.stdout) if "--json" in args and result.exit_code in (0, 1) else None
    return result, payload


def test_documented_filter_of_the_replaced_integration_is_explained(invoke, keys_file):
    """Its documented example names: two exist, two are not names skrl ever tracks."""
    result, payload = dry_run(
        invoke,
        "episode_reward_mean",
        "Episode_Length_Mean",
        "grad_norm",
        "kl_divergence",
        "--keys-file",
        str(keys_file),
        "--json",
    )

    assert result.exit_code == 0, result.output
    logged = {n["key"] for n in payload["names"] if n["logged"]}
    assert logged == {"episode_reward_mean"}
    problems = {u["pattern"]: u for u in payload["unmatched"]}
    assert set(problems) == {"Episode_Length_Mean", "grad_norm", "kl_divergence"}
    assert problems["Episode_Length_Mean"]["case_matches"] == ["episode_length_mean"]
    assert "case-sensitive" in problems["Episode_Length_Mean"]["problem"]
    for name in ("grad_norm", "kl_divergence"):
        assert problems[name]["skrl_matches"] == []
        assert "no skrl agent tracks a metric by this name" in problems[name]["problem"]


def test_each_decision_names_its_pattern(invoke, keys_file):
    result, payload = dry_run(
        invoke, "episode_*", "--exclude", "*_min", "--keys-file", str(keys_file), "--json"
    )

    assert result.exit_code == 0, result.output
    names = {n["key"]: n for n in payload["names"]}
    assert names["episode_reward_mean"]["logged"] is True
    assert names["episode_reward_mean"]["matched_by"] == ["episode_*"]
    assert names["episode_reward_min"]["logged"] is False
    assert names["episode_reward_min"]["excluded_by"] == ["*_min"]
    assert names["policy_loss"]["logged"] is False
    assert names["policy_loss"]["matched_by"] == []
    assert (payload["logged"], payload["dropped"]) == (3, 5)
    assert payload["unmatched"] == []


def test_table_shows_logged_first_then_dropped_with_reasons(invoke, keys_file):
    result, _ = dry_run(invoke, "policy_loss", "Loss/*", "--keys-file", str(keys_file))

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "1 of 8 metrics logged, 7 dropped" in lines[0]
    marks = [line.split()[1] for line in lines if line.lstrip().startswith(("✓", "✗"))]
    assert marks == ["logged"] + ["dropped"] * 7
    assert "1 pattern(s) match nothing" in result.output
    assert "'Loss/*'" in result.output
    assert "generic key form" in result.output  # Loss/* fits 'Loss/Policy_loss', not policy_loss


def test_strict_exits_1_when_a_pattern_matches_nothing(invoke, keys_file):
    ok, _ = dry_run(invoke, "policy_loss", "--keys-file", str(keys_file), "--strict")
    missing, _ = dry_run(invoke, "policy_los", "--keys-file", str(keys_file), "--strict")

    assert ok.exit_code == 0, ok.output
    assert missing.exit_code == 1, missing.output
    assert "did you mean 'policy_loss'" in " ".join(missing.output.split())


def test_names_from_an_existing_run(invoke, store):
    run_id = store.log_run({"episode_reward_mean": [(0, 1.0)], "value_loss": [(0, 2.0)]})

    result, payload = dry_run(
        invoke, "value_*", "--run", run_id, "--tracking-uri", store.uri, "--json"
    )

    assert result.exit_code == 0, result.output
    assert payload["source"] == f"run {run_id}"
    assert [(n["key"], n["logged"]) for n in payload["names"]] == [
        ("episode_reward_mean", False),
        ("value_loss", True),
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--run", "x", "--task", "CartPole-v1"], "(got --run, --task)"),
        # a positional pattern was reported as --metric-filter, an option dry-run does not have
        (["re:(", "--keys-file", "k.txt"], "invalid value for PATTERN: 're:('"),
        (["--keys-file", "missing.txt"], "invalid value for --keys-file: 'missing.txt'"),
    ],
)
def test_bad_input_is_a_usage_error(invoke, error_line, args, expected):
    result = invoke("dry-run", "filter", *args)

    assert result.exit_code == 2, result.output
    assert expected in error_line(result)


def test_live_rollout_gives_skrl_tags_and_keys(invoke):
    result, payload = dry_run(
        invoke,
        "Loss / *",
        "episode_reward_mean",
        "Episode_Metrics/*",
        "--task",
        "CartPole-v1",
        "--timesteps",
        "80",
        "--json",
    )

    assert result.exit_code == 0, result.output
    assert payload["source"] == "a 80-timestep rollout of CartPole-v1 (PPO)"
    names = {n["tag"]: n for n in payload["names"]}
    assert names["Loss / Policy loss"]["key"] == "policy_loss"
    assert names["Loss / Policy loss"]["logged"] is True
    assert names["Reward / Total reward (mean)"]["key"] == "episode_reward_mean"
    assert names["Reward / Total reward (mean)"]["logged"] is True
    assert names["Episode_Metrics/pole_angle_abs"]["logged"] is True
    assert names["Stats / Inference time (ms)"]["logged"] is False
    assert payload["unmatched"] == []


def test_comment_lines_of_a_keys_file_are_not_names(invoke, tmp_path):
    path = tmp_path / "keys.txt"
    path.write_text("# keys of last week's run\npolicy_loss\n   # indented comment\nvalue_loss\n")

    result, payload = dry_run(invoke, "--keys-file", str(path), "--json")

    assert result.exit_code == 0, result.output
    assert [n["key"] for n in payload["names"]] == ["policy_loss", "value_loss"]


def test_skrl_tag_patterns_select_a_run_s_keys_as_in_training(invoke, store):
    """'Loss / *' selects the losses in training; against a run's keys it matched nothing."""
    series = {
        "policy_loss": [(16, 0.5)],
        "value_loss": [(16, 2.0)],
        "agent_0/policy_loss": [(16, 0.4)],
        "episode_reward_mean": [(16, 9.0)],
        "episode_reward_mean/std": [(16, 1.0)],
        "Episode_Reward/alive": [(16, 1.0)],
    }
    run_id = store.log_run(series)

    result, payload = dry_run(
        invoke, "Loss / *", "Reward / Total reward (mean)", "--run", run_id,
        "--tracking-uri", store.uri, "--json",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    logged = {n["key"] for n in payload["names"] if n["logged"]}
    assert logged == {
        "policy_loss",
        "value_loss",
        "agent_0/policy_loss",
        "episode_reward_mean",
        "episode_reward_mean/std",  # a derived statistic goes with its tag
    }
    tags = {n["key"]: n["tag"] for n in payload["names"]}
    assert tags["agent_0/policy_loss"] == "Loss / Policy loss (agent_0)"
    assert tags["Episode_Reward/alive"] is None
    assert payload["unmatched"] == []


def test_without_a_source_the_latest_run_is_used(invoke, store):
    store.log_run({"policy_loss": [(1, 1.0)]}, start_time=1_700_000_000_000)
    latest = store.log_run({"value_loss": [(1, 1.0)]}, start_time=1_800_000_000_000)

    result, payload = dry_run(invoke, "value_*", "--tracking-uri", store.uri, "--json")

    assert result.exit_code == 0, result.output
    assert payload["source"].startswith(f"run {latest} (the latest")
    assert [(n["key"], n["logged"]) for n in payload["names"]] == [("value_loss", True)]


def test_without_a_source_and_no_store_here_it_says_so(invoke, error_line):
    result = invoke("dry-run", "filter", "policy_loss")

    assert result.exit_code == 1, result.output
    assert "no MLflow store at sqlite:///" in error_line(result)
