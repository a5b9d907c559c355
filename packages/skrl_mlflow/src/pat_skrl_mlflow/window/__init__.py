"""Stage 2, window: tracked values become named, filtered, reduced metrics.

One logging window at a time, paced in trainer timesteps, merged across ranks.
"""

from pat_skrl_mlflow.window._distributed import RankInfo, aggregate_across_ranks, rank_info
from pat_skrl_mlflow.window._filter_report import (
    FilterDecision,
    MetricName,
    PatternReport,
    explain_filter,
    named_keys,
)
from pat_skrl_mlflow.window._names import (
    PER_AGENT_TAGS,
    SKRL_ALIASES,
    make_mapper,
    skrl_aliases,
    skrl_tag_of_key,
)
from pat_skrl_mlflow.window._pacing import Pacer, log_every
from pat_skrl_mlflow.window._pipeline import MetricPipeline, SkippedMetricWarning, compile_extras
from pat_skrl_mlflow.window._window import primary_stat

__all__ = [
    "PER_AGENT_TAGS",
    "SKRL_ALIASES",
    "FilterDecision",
    "MetricName",
    "MetricPipeline",
    "Pacer",
    "PatternReport",
    "RankInfo",
    "SkippedMetricWarning",
    "aggregate_across_ranks",
    "compile_extras",
    "explain_filter",
    "log_every",
    "make_mapper",
    "named_keys",
    "primary_stat",
    "rank_info",
    "skrl_aliases",
    "skrl_tag_of_key",
]
