"""pat-core: the pieces every pat package shares.

Streaming, mergeable reducers (and the batched per-env episode engine), MLflow-safe
metric names, include/exclude filters and logging-interval policies. Nothing here
imports skrl, MLflow or gymnasium; torch is used when present, never required.
"""

from importlib.metadata import version as _version

# --- reducers (owned by pat_core.reducers) ---
# isort: split
from pat_core.reducers import (
    EPISODE_REDUCES,
    EPISODE_STATS,
    Count,
    EpisodeStack,
    EpisodeStats,
    Last,
    Max,
    Mean,
    Min,
    Quantile,
    QuantileSketch,
    Reducer,
    Std,
    Sum,
    Var,
    make_reducer,
    percentile_q,
    reducer_names,
)

# --- end reducers ---

# --- names, filters, intervals ---
# isort: split
from pat_core.filters import MetricFilter, UnmatchedPattern, read_pattern_file, select_names
from pat_core.intervals import ACCEPTED_INTERVALS, IntervalPolicy, LogInterval, parse_log_interval
from pat_core.names import (
    MAX_KEY_LENGTH,
    KeyCollisionWarning,
    MetricNameMapper,
    is_valid_mlflow_key,
    to_mlflow_key,
)

# --- end names, filters, intervals ---

__version__ = _version("pat-core")

__all__ = [
    "ACCEPTED_INTERVALS",
    "EPISODE_REDUCES",
    "EPISODE_STATS",
    "MAX_KEY_LENGTH",
    "Count",
    "EpisodeStack",
    "EpisodeStats",
    "IntervalPolicy",
    "KeyCollisionWarning",
    "Last",
    "LogInterval",
    "Max",
    "Mean",
    "MetricFilter",
    "MetricNameMapper",
    "Min",
    "Quantile",
    "QuantileSketch",
    "Reducer",
    "Std",
    "Sum",
    "UnmatchedPattern",
    "Var",
    "__version__",
    "is_valid_mlflow_key",
    "make_reducer",
    "parse_log_interval",
    "percentile_q",
    "read_pattern_file",
    "reducer_names",
    "select_names",
    "to_mlflow_key",
]
