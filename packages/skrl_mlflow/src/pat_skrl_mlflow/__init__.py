"""pat-skrl-mlflow: send everything a skrl agent tracks to MLflow.

Named with pat-core's MLflow-safe keys, reduced per logging window, paced by a
real log interval and delivered in batches from a background sender.

Example:
    >>> handle = instrument(runner.agent, interval="rollout")  # doctest: +SKIP
    >>> runner.run()  # doctest: +SKIP
    >>> print(handle.close())  # doctest: +SKIP
"""

import logging as _logging
from importlib.metadata import version as _version

from pat_skrl_mlflow._dropin import create_mlflow_logging_wrapper
from pat_skrl_mlflow._instrument import instrument
from pat_skrl_mlflow._instrumentation import Instrumentation
from pat_skrl_mlflow._report import Summary, TagStats
from pat_skrl_mlflow.run_store import (
    EXPERIMENT_KIND_TAG,
    OFFLINE_PREFIX,
    RUN_FILE,
    TRAINING_EXPERIMENT_KIND,
    BackgroundSender,
    Item,
    LoggedPolicy,
    MetricPoint,
    MlflowRunClient,
    MlflowSink,
    PolicyKind,
    ProcessClient,
    RunClient,
    RunNotInStore,
    RunTarget,
    SenderStats,
    Sink,
    SinkRejected,
    SinkUnavailable,
    Spool,
    SpoolBusy,
    SyncResult,
    checkpoint_timestep,
    default_tags,
    deterministic_policy,
    find_spools,
    flatten_params,
    last_logged_step,
    left_running,
    log_agent_config,
    log_checkpoints,
    log_params,
    log_policy,
    log_yaml,
    mark_training_experiment,
    mask_secrets,
    mask_uri,
    open_store,
    protect,
    qualified_name,
    readable,
    recorded_run,
    resume_step,
    set_tags,
    spool_directory,
    start_run,
    sync_spool,
    use_process,
    write_run_file,
)
from pat_skrl_mlflow.run_store import MaskingFilter as _MaskingFilter
from pat_skrl_mlflow.window import (
    PER_AGENT_TAGS,
    SKRL_ALIASES,
    RankInfo,
    SkippedMetricWarning,
    log_every,
    rank_info,
    skrl_aliases,
    skrl_tag_of_key,
)

__version__ = _version("pat-skrl-mlflow")

_logging.getLogger("pat_skrl_mlflow").addFilter(_MaskingFilter())

__all__ = [
    "EXPERIMENT_KIND_TAG",
    "OFFLINE_PREFIX",
    "PER_AGENT_TAGS",
    "RUN_FILE",
    "SKRL_ALIASES",
    "TRAINING_EXPERIMENT_KIND",
    "BackgroundSender",
    "Instrumentation",
    "Item",
    "LoggedPolicy",
    "MetricPoint",
    "MlflowRunClient",
    "MlflowSink",
    "PolicyKind",
    "ProcessClient",
    "RankInfo",
    "RunClient",
    "RunNotInStore",
    "RunTarget",
    "SenderStats",
    "Sink",
    "SinkRejected",
    "SinkUnavailable",
    "SkippedMetricWarning",
    "Spool",
    "SpoolBusy",
    "Summary",
    "SyncResult",
    "TagStats",
    "__version__",
    "checkpoint_timestep",
    "create_mlflow_logging_wrapper",
    "default_tags",
    "deterministic_policy",
    "find_spools",
    "flatten_params",
    "instrument",
    "last_logged_step",
    "left_running",
    "log_agent_config",
    "log_checkpoints",
    "log_every",
    "log_params",
    "log_policy",
    "log_yaml",
    "mark_training_experiment",
    "mask_secrets",
    "mask_uri",
    "open_store",
    "protect",
    "qualified_name",
    "rank_info",
    "readable",
    "recorded_run",
    "resume_step",
    "set_tags",
    "skrl_aliases",
    "skrl_tag_of_key",
    "spool_directory",
    "start_run",
    "sync_spool",
    "use_process",
    "write_run_file",
]
