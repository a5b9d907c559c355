"""Stages 3 and 4, deliver and store: the MLflow run pat writes, and how points reach it.

The run's lifecycle (create, resume, end, status: ``_run``); delivery (the sender, the
spooling sink and its spool, the only retry mechanism; ``pat sync``); the store writer
process (``_writer_client`` in the training process, ``_writer_process`` starting it,
``_writer_server`` in the child, ``_writer_messages`` between them); secret masking; the
trained policy as an MLflow model of the run.
"""

from pat_skrl_mlflow.run_store._creation import open_store
from pat_skrl_mlflow.run_store._http import HTTP_DEFAULTS, fail_fast_over_http, probing_http
from pat_skrl_mlflow.run_store._liveness import left_running
from pat_skrl_mlflow.run_store._metric_reader import (
    FINE_BUCKETS,
    HUGE,
    History,
    MetricReader,
    MetricSummary,
    RequestReader,
    SqliteFileReader,
    SqlStoreReader,
    metric_reader,
    read_histories,
    read_histories_per_key,
    summarize_histories,
    summarize_run,
)
from pat_skrl_mlflow.run_store._policy_model import (
    LoggedPolicy,
    PolicyKind,
    deterministic_policy,
    log_policy,
)
from pat_skrl_mlflow.run_store._resume import (
    RUN_FILE,
    checkpoint_timestep,
    experiment_dir,
    recorded_run,
    resume_step,
    write_run_file,
)
from pat_skrl_mlflow.run_store._run import (
    EXPERIMENT_KIND_TAG,
    TRAINING_EXPERIMENT_KIND,
    RunStatus,
    RunTarget,
    default_tags,
    flatten_params,
    last_logged_step,
    log_agent_config,
    log_checkpoints,
    log_metric_names,
    log_params,
    log_yaml,
    mark_training_experiment,
    metric_names,
    qualified_name,
    readable,
    resolve_run,
    set_tags,
    start_run,
)
from pat_skrl_mlflow.run_store._run_client import MlflowRunClient, RunClient
from pat_skrl_mlflow.run_store._run_info import (
    PROCESS_TAGS,
    RunInfo,
)
from pat_skrl_mlflow.run_store._secrets import MaskingFilter, mask_secrets, mask_uri, protect
from pat_skrl_mlflow.run_store._sender import BackgroundSender
from pat_skrl_mlflow.run_store._sink import (
    DeliveryStats,
    MetricPoint,
    MlflowSink,
    Sink,
    SinkRejected,
    SinkUnauthorized,
    SinkUnavailable,
)
from pat_skrl_mlflow.run_store._spool import Spool
from pat_skrl_mlflow.run_store._spooling_sink import (
    OFFLINE_PREFIX,
    SpoolingSink,
    durable_sink,
    linger_seconds,
    spool_directory,
)
from pat_skrl_mlflow.run_store._sqlite_reader import (
    ListedRun,
    RunListing,
    SqliteStore,
    UnknownExperimentError,
)
from pat_skrl_mlflow.run_store._store_address import (
    default_tracking_uri,
    experiment_choice,
    resolve_tracking_uri,
    sqlite_path,
)
from pat_skrl_mlflow.run_store._sync import (
    RunNotInStore,
    SpoolBusy,
    SyncResult,
    find_spools,
    sync_spool,
)
from pat_skrl_mlflow.run_store._writer_client import ProcessClient
from pat_skrl_mlflow.run_store._writer_messages import Item
from pat_skrl_mlflow.run_store._writer_process import use_process

__all__ = [
    "EXPERIMENT_KIND_TAG",
    "FINE_BUCKETS",
    "HTTP_DEFAULTS",
    "HUGE",
    "OFFLINE_PREFIX",
    "PROCESS_TAGS",
    "RUN_FILE",
    "TRAINING_EXPERIMENT_KIND",
    "BackgroundSender",
    "DeliveryStats",
    "History",
    "Item",
    "ListedRun",
    "LoggedPolicy",
    "MaskingFilter",
    "MetricPoint",
    "MetricReader",
    "MetricSummary",
    "MlflowRunClient",
    "MlflowSink",
    "PolicyKind",
    "ProcessClient",
    "RequestReader",
    "RunClient",
    "RunInfo",
    "RunListing",
    "RunNotInStore",
    "RunStatus",
    "RunTarget",
    "Sink",
    "SinkRejected",
    "SinkUnauthorized",
    "SinkUnavailable",
    "Spool",
    "SpoolBusy",
    "SpoolingSink",
    "SqlStoreReader",
    "SqliteFileReader",
    "SqliteStore",
    "SyncResult",
    "UnknownExperimentError",
    "checkpoint_timestep",
    "default_tags",
    "default_tracking_uri",
    "deterministic_policy",
    "durable_sink",
    "experiment_choice",
    "experiment_dir",
    "fail_fast_over_http",
    "find_spools",
    "flatten_params",
    "last_logged_step",
    "left_running",
    "linger_seconds",
    "log_agent_config",
    "log_checkpoints",
    "log_metric_names",
    "log_params",
    "log_policy",
    "log_yaml",
    "mark_training_experiment",
    "mask_secrets",
    "mask_uri",
    "metric_names",
    "metric_reader",
    "open_store",
    "probing_http",
    "protect",
    "qualified_name",
    "read_histories",
    "read_histories_per_key",
    "readable",
    "recorded_run",
    "resolve_run",
    "resolve_tracking_uri",
    "resume_step",
    "set_tags",
    "spool_directory",
    "sqlite_path",
    "start_run",
    "summarize_histories",
    "summarize_run",
    "sync_spool",
    "use_process",
    "write_run_file",
]
