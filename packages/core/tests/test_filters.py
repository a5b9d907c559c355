"""Filters: exact/glob/regex patterns on tags and keys, the unmatched report, pattern files."""

from __future__ import annotations

import doctest
import fnmatch
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

import pat_core.filters
from pat_core import (
    MetricFilter,
    UnmatchedPattern,
    read_pattern_file,
    select_names,
    to_mlflow_key,
)

if TYPE_CHECKING:
    from pathlib import Path

TAGS = [
    "Reward / Total reward (mean)",
    "Reward / Total reward (max)",
    "Reward / Instantaneous reward (mean)",
    "Loss / Policy loss",
    "Loss / Value loss",
    "Loss / Policy loss (agent_0)",
    "Stats / Inference time (ms)",
    "Episode_Reward/alive",
    "Info / Episode_Reward/alive",
    "policy_loss",
]


def allowed(metric_filter: MetricFilter, tags: list[str] = TAGS) -> list[str]:
    return [t for t in tags if metric_filter.allows(t, to_mlflow_key(t))]


@pytest.mark.parametrize(
    ("include", "exclude", "expected"),
    [
        (None, (), TAGS),
        # exact tag, exact key
        (["Loss / Policy loss"], (), ["Loss / Policy loss"]),
        (["Loss/Policy_loss"], (), ["Loss / Policy loss"]),
        # case-sensitive
        (["loss/policy_loss"], (), []),
        (["Policy_Loss"], (), []),
        # globs on keys and on tags; '*' crosses '/'
        (
            ["Loss/*"],
            (),
            ["Loss / Policy loss", "Loss / Value loss", "Loss / Policy loss (agent_0)"],
        ),
        (
            ["*_mean"],
            (),
            [
                "Reward / Total reward (mean)",
                "Reward / Instantaneous reward (mean)",
            ],
        ),
        (["Reward / * (max)"], (), ["Reward / Total reward (max)"]),
        (["*Episode_Reward/alive"], (), ["Episode_Reward/alive", "Info / Episode_Reward/alive"]),
        (["Loss/Policy_loss_agent_?"], (), ["Loss / Policy loss (agent_0)"]),
        (["Loss/[PV]*_loss"], (), ["Loss / Policy loss", "Loss / Value loss"]),
        (["Loss/[!P]*"], (), ["Loss / Value loss"]),
        # regex: fullmatch, not search
        (["re:Reward/.*_(mean|max)"], (), TAGS[:3]),
        (["re:Policy"], (), []),
        (["re:.*Policy.*"], (), ["Loss / Policy loss", "Loss / Policy loss (agent_0)"]),
        (["re:Stats / .+ \\(ms\\)"], (), ["Stats / Inference time (ms)"]),
        # regex metacharacters in an exact name are literal
        (["Reward / Total reward (mean)"], (), ["Reward / Total reward (mean)"]),
        (["Stats/Inference_time_ms"], (), ["Stats / Inference time (ms)"]),
        # exclude wins over include
        (["Loss/*"], ["*agent_0"], ["Loss / Policy loss", "Loss / Value loss"]),
        (["Loss / Policy loss"], ["Loss/Policy_loss"], []),
        (None, ["Reward/*", "Stats/*", "re:.*alive", "policy_loss"], TAGS[3:6]),
        # several include patterns: union
        (
            ["Loss / Value loss", "Stats/*"],
            (),
            ["Loss / Value loss", "Stats / Inference time (ms)"],
        ),
    ],
)
def test_allows(include: list[str] | None, exclude: list[str], expected: list[str]) -> None:
    metric_filter = MetricFilter(include=include, exclude=exclude)
    assert allowed(metric_filter) == expected
    # answers are cached but stay the same
    assert allowed(metric_filter) == expected


def test_without_a_key_only_the_tag_is_matched() -> None:
    metric_filter = MetricFilter(include=["Loss/*"])
    assert not metric_filter.allows("Loss / Policy loss")
    assert metric_filter.allows("Loss / Policy loss", "Loss/Policy_loss")
    assert metric_filter.allows("Loss/x")


def test_attributes_keep_the_patterns() -> None:
    metric_filter = MetricFilter(include=["a", "re:b"], exclude=["c*"])
    assert metric_filter.include == ("a", "re:b")
    assert metric_filter.exclude == ("c*",)
    assert MetricFilter().include is None
    assert MetricFilter().exclude == ()
    assert "re:b" in repr(metric_filter)


@pytest.mark.parametrize(
    ("include", "exclude", "error", "match"),
    [
        ([], (), ValueError, "empty include list would drop every metric; pass None"),
        ((), (), ValueError, "empty include list"),
        (["re:Loss/(unclosed"], (), ValueError, r"'re:Loss/\(unclosed'.*missing \)"),
        (None, ["re:*bad"], ValueError, r"'re:\*bad'.*nothing to repeat"),
        (["re:"], (), ValueError, "no regular expression after 're:'"),
        ([""], (), ValueError, "empty filter pattern"),
        (None, [""], ValueError, "empty filter pattern"),
        ("Loss/*", (), TypeError, r"not one string: use \['Loss/\*'\]"),
        (None, "Loss/*", TypeError, "exclude must be a sequence"),
        ([3], (), TypeError, "must be strings"),
        ([None], (), TypeError, "must be strings"),
    ],
)
def test_bad_patterns(
    include: list[str] | None, exclude: list[str], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        MetricFilter(include=include, exclude=exclude)


def test_unmatched_reports_patterns_with_suggestions() -> None:
    metric_filter = MetricFilter(
        include=["Loss/*", "Policy_Loss", "episode_reward_mean", "re:Reward/.*_median"],
        exclude=["Stats/*", "loss/value_loss", "Zzz"],
    )
    allowed(metric_filter)
    report = {u.pattern: u for u in metric_filter.unmatched()}
    assert list(report) == [
        "Policy_Loss",
        "episode_reward_mean",
        "re:Reward/.*_median",
        "loss/value_loss",
        "Zzz",
    ]
    assert report["Policy_Loss"].kind == "include"
    # same name, other case: suggested first
    assert report["Policy_Loss"].suggestions[0] == "policy_loss"
    assert "Loss/Policy_loss" in report["Policy_Loss"].suggestions
    assert report["loss/value_loss"] == UnmatchedPattern(
        "loss/value_loss", "exclude", report["loss/value_loss"].suggestions, ("Loss/Value_loss",)
    )
    assert report["loss/value_loss"].suggestions[0] == "Loss/Value_loss"
    assert "Reward/Total_reward_mean" in report["episode_reward_mean"].suggestions
    assert report["Zzz"].suggestions == ()
    for unmatched in report.values():
        assert len(unmatched.suggestions) <= 5


def test_unmatched_glob_suggests_case_insensitive_matches() -> None:
    metric_filter = MetricFilter(include=["loss/*"])
    allowed(metric_filter)
    (unmatched,) = metric_filter.unmatched()
    assert unmatched.suggestions[:3] == (
        "Loss/Policy_loss",
        "Loss/Value_loss",
        "Loss/Policy_loss_agent_0",
    )


def test_unmatched_before_any_name_lists_every_pattern() -> None:
    metric_filter = MetricFilter(include=["a"], exclude=["b"])
    assert metric_filter.unmatched() == [
        UnmatchedPattern("a", "include", ()),
        UnmatchedPattern("b", "exclude", ()),
    ]


def test_excluded_metrics_still_count_as_include_matches() -> None:
    # Every pattern is checked, so a pattern is not reported merely because another one
    # decided first.
    metric_filter = MetricFilter(include=["Loss/*", "*_loss"], exclude=["Loss/Value_loss"])
    assert not metric_filter.allows("Loss / Value loss", "Loss/Value_loss")
    assert metric_filter.unmatched() == []


def test_read_pattern_file(tmp_path: Path) -> None:
    path = tmp_path / "patterns.txt"
    path.write_text(
        "\ufeff# metrics to keep\n"
        "Loss/*\n"
        "\n"
        "   \n"
        "  Reward / Total reward (mean)  \n"
        "   # indented comment\n"
        "re:Stats/.*#x\n",
        encoding="utf-8",
    )
    patterns = read_pattern_file(path)
    assert patterns == ["Loss/*", "Reward / Total reward (mean)", "re:Stats/.*#x"]
    assert read_pattern_file(str(path)) == patterns
    assert MetricFilter(include=patterns).allows("Loss / x", "Loss/x")


def test_read_pattern_file_of_only_comments_gives_an_empty_include_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_text("# nothing yet\n\n", encoding="utf-8")
    assert read_pattern_file(path) == []
    with pytest.raises(ValueError, match="empty include list"):
        MetricFilter(include=read_pattern_file(path))


def test_read_pattern_file_missing(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(FileNotFoundError, match="pattern file not found") as info:
        read_pattern_file(missing)
    assert info.value.filename == str(missing)
    assert str(missing) in str(info.value)


def test_docstring_examples() -> None:
    result = doctest.testmod(pat_core.filters)
    assert result.attempted > 0
    assert result.failed == 0


def test_select_names_keeps_order_and_reports_unmatched() -> None:
    keys = ["policy_loss", "episode_reward_mean", "Episode_Metrics/joint_vel", "value_loss"]
    chosen, unmatched = select_names(keys, ["*_loss", "re:Episode_.*", "Episode_reward*"])
    assert chosen == ["policy_loss", "Episode_Metrics/joint_vel", "value_loss"]
    (miss,) = unmatched
    assert miss.pattern == "Episode_reward*"
    assert miss.case_matches == ("episode_reward_mean",)
    assert miss.hint() == "names are case-sensitive; did you mean 'episode_reward_mean'?"


def test_select_names_without_patterns_chooses_every_name() -> None:
    assert select_names(("b", "a"), []) == (["b", "a"], [])


def test_unmatched_hint_suggests_close_names_or_nothing() -> None:
    _, (close, far) = select_names(["episode_reward_mean"], ["episode_reward_man", "zzz"])
    assert close.case_matches == ()
    assert close.hint() == "did you mean 'episode_reward_mean'?"
    assert far.hint() == ""


@given(
    st.lists(st.text(alphabet="ab_/", min_size=1, max_size=6), min_size=1, max_size=8),
    st.lists(st.text(alphabet="ab_/*?", min_size=1, max_size=4), min_size=1, max_size=3),
)
def test_select_names_globs_match_as_fnmatchcase(names: list[str], globs: list[str]) -> None:
    # The reference: what `--key` matched with before it shared this language.
    expected = [n for n in names if any(fnmatch.fnmatchcase(n, g) for g in globs)]
    chosen, _ = select_names(names, globs)
    assert chosen == expected
