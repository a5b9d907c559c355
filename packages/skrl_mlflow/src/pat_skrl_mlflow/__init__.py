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

from pat_skrl_mlflow._distributed import RankInfo, rank_info
from pat_skrl_mlflow._dropin import create_mlflow_logging_wrapper
from pat_skrl_mlflow._durable import OFFLINE_PREFIX, spool_directory
from pat_skrl_mlflow._instrument import instrument
from pat_skrl_mlflow._instrumentation import Instrumentation
from pat_skrl_mlflow._liveness import left_running
from pat_skrl_mlflow._names import PER_AGENT_TAGS, SKRL_ALIASES, skrl_aliases, skrl_tag_of_key
from pat_skrl_mlflow._pacing import log_every
from pat_skrl_mlflow._pipeline import SkippedMetricWarning
from pat_skrl_mlflow._policy_model import LoggedPolicy, PolicyKind, deterministic_policy, log_policy
from pat_skrl_mlflow._report import Summary, TagStats
from pat_skrl_mlflow._run import (
    EXPERIMENT_KIND_TAG,
    TRAINING_EXPERIMENT_KIND,
    RunTarget,
    default_tags,
    flatten_params,
    last_logged_step,
    log_agent_config,
    log_checkpoints,
    log_params,
    log_yaml,
    mark_training_experiment,
    qualified_name,
    readable,
    set_tags,
    start_run,
)
from pat_skrl_mlflow._secrets import MaskingFilter as _MaskingFilter
from pat_skrl_mlflow._secrets import mask_secrets, mask_uri, protect
from pat_skrl_mlflow._sender import BackgroundSender, SenderStats
from pat_skrl_mlflow._sink import MetricPoint, MlflowSink, Sink, SinkRejected, SinkUnavailable
from pat_skrl_mlflow._spool import Spool
from pat_skrl_mlflow._store_client import ProcessClient
from pat_skrl_mlflow._store_creation import open_store
from pat_skrl_mlflow._store_process import use_process
from pat_skrl_mlflow._sync import RunNotInStore, SpoolBusy, SyncResult, find_spools, sync_spool

__version__ = _version("pat-skrl-mlflow")

_logging.getLogger("pat_skrl_mlflow").addFilter(_MaskingFilter())

__all__ = [
    "EXPERIMENT_KIND_TAG",
    "OFFLINE_PREFIX",
    "PER_AGENT_TAGS",
    "SKRL_ALIASES",
    "TRAINING_EXPERIMENT_KIND",
    "BackgroundSender",
    "Instrumentation",
    "LoggedPolicy",
    "MetricPoint",
    "MlflowSink",
    "PolicyKind",
    "ProcessClient",
    "RankInfo",
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
    "set_tags",
    "skrl_aliases",
    "skrl_tag_of_key",
    "spool_directory",
    "start_run",
    "sync_spool",
    "use_process",
]
