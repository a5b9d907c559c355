"""skrl's standard tags get readable, valid, unique MLflow keys; every tag skrl tracks."""

from __future__ import annotations

import re
from pathlib import Path

import skrl

from pat_core import is_valid_mlflow_key
from pat_skrl_mlflow import PER_AGENT_TAGS, SKRL_ALIASES, skrl_aliases, skrl_tag_of_key
from pat_skrl_mlflow.window._names import make_mapper

TAG = re.compile(r"""(?:track_data\(|tracking_data\[)\s*f?"([^"]+)\"""")
DYNAMIC = {"Info / {k}"}  # environment info: the generic mapping by design


def _tags_in_skrl_source() -> set[str]:
    root = Path(skrl.__file__).parent
    tags = set()
    for folder in ("agents/torch", "multi_agents/torch", "trainers/torch"):
        for path in (root / folder).rglob("*.py"):
            tags.update(TAG.findall(path.read_text()))
    return {re.sub(r" \(\{uid\}\)$", "", tag) for tag in tags} - DYNAMIC


def test_every_standard_skrl_tag_has_a_readable_alias():
    tags = _tags_in_skrl_source()
    assert len(tags) > 30
    assert tags - set(SKRL_ALIASES) == set()


def test_aliases_are_valid_unique_and_documented_names_exist():
    keys = list(SKRL_ALIASES.values())
    assert all(is_valid_mlflow_key(key) and "/" not in key for key in keys)
    assert len(set(keys)) == len(keys)
    documented = {
        *("episode_reward_mean", "episode_reward_min", "episode_reward_max"),
        *("episode_length_mean", "policy_loss", "value_loss", "entropy_loss"),
        *("learning_rate", "policy_std", "critic_loss", "q1_mean", "target_mean"),
    }
    assert documented <= set(keys)


def test_per_agent_tags_get_a_per_agent_prefix():
    table = skrl_aliases(["agent_0", "adversary 1"])
    assert table["Loss / Policy loss (agent_0)"] == "agent_0/policy_loss"
    assert table["Learning / Learning rate (adversary 1)"] == "adversary_1/learning_rate"
    assert all(f"{tag} (agent_0)" in table for tag in PER_AGENT_TAGS)


def test_readme_publishes_the_full_table():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    rows = set(re.findall(r"^\| `(.+)` \| `(.+)` \|$", readme, flags=re.MULTILINE))
    assert rows == set(SKRL_ALIASES.items())


def test_a_logged_key_leads_back_to_its_tag_as_the_mapper_named_it():
    """skrl_tag_of_key inverts the mapper for every standard and per-agent tag."""
    mapper = make_mapper(["agent_0", "blue"])
    tags = [*SKRL_ALIASES, *(f"{t} ({u})" for t in PER_AGENT_TAGS for u in ("agent_0", "blue"))]
    for tag in tags:
        key = mapper.key(tag)
        assert skrl_tag_of_key(key) == (tag, key)
        assert skrl_tag_of_key(f"{key}/std") == (tag, key)  # a derived statistic: its tag's key
    assert skrl_tag_of_key("Episode_Reward/alive") is None
    assert skrl_tag_of_key("my_metric") is None


def test_an_unmatched_pattern_is_reported_with_the_case_mistake() -> None:
    from pat_core import MetricFilter
    from pat_skrl_mlflow._report import format_unmatched

    metric_filter = MetricFilter(include=["Policy_loss", "grad_norm"])
    metric_filter.allows("policy_loss")
    assert format_unmatched(metric_filter.unmatched()).splitlines() == [
        "pat: include pattern 'Policy_loss' matches no metric "
        "(names are case-sensitive; did you mean 'policy_loss'?)",
        "pat: include pattern 'grad_norm' matches no metric",
    ]
