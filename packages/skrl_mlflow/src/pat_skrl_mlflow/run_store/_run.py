"""Start, resume, describe and end the MLflow run that pat logs to.

Honours MLflow's environment: ``MLFLOW_TRACKING_URI`` (else MLflow's default store,
``sqlite:///mlflow.db`` in the working directory), ``MLFLOW_EXPERIMENT_NAME`` /
``MLFLOW_EXPERIMENT_ID`` and ``MLFLOW_RUN_ID`` (a run created outside the process,
e.g. by Azure ML, which is resumed instead of starting a new one).
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import functools
import logging
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any, Literal

from pat_core import to_mlflow_key
from pat_skrl_mlflow.run_store._creation import open_store
from pat_skrl_mlflow.run_store._liveness import process_tags
from pat_skrl_mlflow.run_store._run_client import MlflowRunClient, RunClient, as_run_client
from pat_skrl_mlflow.run_store._store_address import sqlite_path
from pat_skrl_mlflow.run_store._writer_messages import Item

if TYPE_CHECKING:
    from mlflow import MlflowClient

# mlflow takes seconds to import: it is imported where a run is resolved or written, so
# importing pat_skrl_mlflow (and capture-only instrumentation) never pays for it.

__all__ = [
    "EXPERIMENT_KIND_TAG",
    "TRAINING_EXPERIMENT_KIND",
    "RunTarget",
    "default_tags",
    "flatten_params",
    "last_logged_step",
    "log_agent_config",
    "log_checkpoints",
    "log_metric_names",
    "log_params",
    "log_yaml",
    "mark_training_experiment",
    "qualified_name",
    "readable",
    "resolve_run",
    "start_run",
]

_log = logging.getLogger("pat_skrl_mlflow")

RunStatus = Literal["FINISHED", "FAILED", "KILLED"]
_MAX_PARAM_VALUE = 6000  # mlflow.utils.validation.MAX_PARAM_VAL_LENGTH
_MAX_TAG_VALUE = 8000
_MAX_PARAMS_PER_REQUEST = 100
_VERSIONED = ("pat-skrl-mlflow", "pat-core", "skrl", "mlflow", "torch", "gymnasium")
_DEFAULT_EXPERIMENT_ID = "0"
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
"""The experiment tag MLflow 3's UI reads to choose an experiment's view."""
TRAINING_EXPERIMENT_KIND = "custom_model_development"
"""Its value for model training: ``mlflow ui`` opens the runs table, not GenAI's views."""


@dataclass
class RunTarget:
    """The MLflow run that metrics go to.

    Attributes:
        run_id: The run's id.
        tracking_uri: The store's URI.
        owned: Whether pat started (or resumed) the run and so ends it with a status.
        client: A client of the store (``pat train``'s: a
            :class:`~pat_skrl_mlflow.run_store._writer_client.ProcessClient`); an
            ``MlflowClient`` given is wrapped in a
            :class:`~pat_skrl_mlflow.run_store._run_client.MlflowRunClient`.
        fluent: Whether the run is MLflow's active (``mlflow.start_run``) run.
    """

    run_id: str
    tracking_uri: str
    owned: bool
    client: RunClient = field(repr=False)
    fluent: bool = False
    ended: bool = False

    def __post_init__(self) -> None:
        self.client = as_run_client(self.client)

    @property
    def active(self) -> bool:
        """Whether the run is MLflow's active (fluent) run right now."""
        if not self.fluent:  # a run of another client: MLflow need not be imported
            return False
        import mlflow

        run = mlflow.active_run()
        return run is not None and run.info.run_id == self.run_id

    def end(self, status: RunStatus) -> bool:
        """End the run with ``status`` (once; errors are logged, never raised).

        Returns:
            False when the store could not record it (the run stays ``RUNNING`` there).
        """
        if self.ended:
            return True
        self.ended = True
        try:
            if self.active:
                import mlflow

                mlflow.end_run(status=status)  # also stops MLflow's system metrics monitor
            else:
                self.client.set_terminated(self.run_id, status=status)
        except Exception as exc:
            _log.warning("pat: could not end MLflow run %s as %s: %s", self.run_id, status, exc)
            return False
        return True

    def detach(self) -> None:
        """Stop the run being MLflow's active run without ending it in the store.

        For a run whose end waits in the spool (the store is unreachable): MLflow's exit
        hook would otherwise end it as FINISHED -- overwriting the status ``pat sync``
        sets -- and, with a hung server, hold the process for its timeouts. MLflow has no
        public call for this (``end_run`` always writes a status), so this takes the run
        off MLflow's thread-local stack of active runs and stops its system metrics
        monitor; on an MLflow without that stack it does nothing.
        """
        if not self.active:
            return
        from mlflow.tracking import fluent

        stack_variable = getattr(fluent, "_active_run_stack", None)
        stack = stack_variable.get() if stack_variable is not None else None
        if not isinstance(stack, list) or not stack or stack[-1].info.run_id != self.run_id:
            return
        stack.pop()
        if os.environ.get("MLFLOW_RUN_ID") == self.run_id:
            del os.environ["MLFLOW_RUN_ID"]
        monitors = getattr(fluent, "run_id_to_system_metrics_monitor", {})
        monitor = monitors.pop(self.run_id, None) if isinstance(monitors, dict) else None
        if monitor is not None:
            with contextlib.suppress(Exception):
                monitor.finish()
        self.ended = True


def start_run(
    *,
    experiment_name: str | None = None,
    run_name: str | None = None,
    run_id: str | None = None,
    tracking_uri: str | None = None,
    tags: Mapping[str, str] | None = None,
    log_system_metrics: bool = False,
) -> RunTarget:
    """Start a new MLflow run, or resume ``run_id`` / ``MLFLOW_RUN_ID``.

    Args:
        experiment_name: Experiment to log to (created if missing); default:
            ``MLFLOW_EXPERIMENT_NAME`` or MLflow's default experiment.
        run_name: Name of a new run.
        run_id: A run to resume; default: ``MLFLOW_RUN_ID``.
        tracking_uri: The store; default: ``MLFLOW_TRACKING_URI`` or MLflow's default.
        tags: Tags set on the run.
        log_system_metrics: Turn on MLflow's built-in system metrics (CPU, memory, GPU
            with ``nvidia-ml-py``) for this run.

    Returns:
        The run, owned by the caller (end it with :meth:`RunTarget.end`).
    """
    import mlflow

    if tracking_uri is not None:
        mlflow.set_tracking_uri(tracking_uri)
    if sqlite_path(mlflow.get_tracking_uri()) is not None:  # a new file: created once
        open_store(mlflow.get_tracking_uri())
    resumed = bool(run_id or os.environ.get("MLFLOW_RUN_ID"))
    uri = mlflow.get_tracking_uri()
    created = False if resumed else _creates_experiment(_client(uri), experiment_name)
    if experiment_name is not None and not resumed:
        mlflow.set_experiment(experiment_name)
    active = mlflow.start_run(
        run_id=run_id,
        run_name=run_name,
        tags=dict(tags or {}),
        log_system_metrics=log_system_metrics,
    )
    if tags and resumed:  # start_run ignores tags when it resumes a run
        set_tags(active.info.run_id, tags, _run_client(uri))
    mark_training_experiment(_client(uri), active.info.experiment_id, created=created)
    return RunTarget(active.info.run_id, uri, owned=True, client=_run_client(uri), fluent=True)


def _creates_experiment(client: MlflowClient, experiment_name: str | None) -> bool:
    """Whether starting a run will create its experiment (named, or ``MLFLOW_EXPERIMENT_NAME``)."""
    if experiment_name is None:
        if os.environ.get("MLFLOW_EXPERIMENT_ID"):
            return False
        experiment_name = os.environ.get("MLFLOW_EXPERIMENT_NAME")
    if not experiment_name:
        return False
    try:
        return client.get_experiment_by_name(experiment_name) is None
    except Exception:  # start_run reports an unusable store
        return False


def mark_training_experiment(client: Any, experiment_id: str, *, created: bool) -> bool:
    """Tag an experiment as model training, for ``mlflow ui``'s training view.

    :data:`EXPERIMENT_KIND_TAG` = :data:`TRAINING_EXPERIMENT_KIND`; without it MLflow 3's UI
    may open the experiment under GenAI "Evaluations". Only an experiment pat just created
    (``created``) or MLflow's Default experiment is tagged, and only when it has no kind
    yet: a kind the user chose is kept. Errors are logged, never raised.

    Returns:
        Whether the tag was set.
    """
    if not created and str(experiment_id) != _DEFAULT_EXPERIMENT_ID:
        return False
    try:
        if EXPERIMENT_KIND_TAG in (client.get_experiment(experiment_id).tags or {}):
            return False
        client.set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, TRAINING_EXPERIMENT_KIND)
    except Exception as exc:
        _log.warning("pat: experiment %s not tagged as training: %s", experiment_id, exc)
        return False
    return True


def resolve_run(run: Any, **start_kwargs: Any) -> RunTarget:
    """Turn ``instrument``'s ``run`` argument into a :class:`RunTarget`.

    ``"auto"``: MLflow's active run if there is one (not ended by pat), else a run
    started with :func:`start_run`; ``"new"``: always :func:`start_run`; a run id, an
    ``mlflow`` ``Run``/``ActiveRun`` or a :class:`RunTarget`: that run (not ended by pat).
    """
    if isinstance(run, RunTarget):
        return run
    import mlflow

    if run == "auto":
        active = mlflow.active_run()
        if active is not None:
            uri = mlflow.get_tracking_uri()
            return RunTarget(
                active.info.run_id, uri, owned=False, client=_run_client(uri), fluent=True
            )
        return start_run(**start_kwargs)
    if run == "new":
        return start_run(**start_kwargs)
    run_id = run if isinstance(run, str) else getattr(getattr(run, "info", None), "run_id", None)
    if not isinstance(run_id, str):
        raise TypeError(
            f"run must be 'auto', 'new', a run id, an MLflow Run or ActiveRun; got {run!r}"
        )
    uri = start_kwargs.get("tracking_uri") or mlflow.get_tracking_uri()
    active = mlflow.active_run()
    fluent = active is not None and active.info.run_id == run_id
    return RunTarget(run_id, uri, owned=False, client=_run_client(uri), fluent=fluent)


def _client(uri: str) -> MlflowClient:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _run_client(uri: str) -> RunClient:
    return MlflowRunClient(_client(uri))


def set_tags(
    run_id: str, tags: Mapping[str, str], client: MlflowClient | RunClient | None = None
) -> None:
    """Set tags on a run (values truncated to MLflow's limit; errors logged)."""
    client = as_run_client(client) if client is not None else _run_client(_current_uri())
    items = [Item(k, str(v)[:_MAX_TAG_VALUE]) for k, v in tags.items()]
    for start in range(0, len(items), _MAX_PARAMS_PER_REQUEST):
        try:
            client.log_batch(run_id, tags=items[start : start + _MAX_PARAMS_PER_REQUEST])
        except Exception as exc:
            _log.warning("pat: could not set run tags: %s", exc)


def _current_uri() -> str:
    import mlflow

    return str(mlflow.get_tracking_uri())


def default_tags(agent: Any = None, *, task: str | None = None) -> dict[str, str]:
    """Tags describing the training: algorithm, task, versions, git commit, process.

    The process tags (``pat.host``, ``pat.pid``, ``pat.boot_id``) tell a run left RUNNING by
    a killed process (:func:`~pat_skrl_mlflow.left_running`).
    """
    tags: dict[str, str] = {}
    if agent is not None:
        tags["pat.algorithm"] = type(agent).__name__
    if task:
        tags["pat.task"] = task
    for name in _VERSIONED:
        try:
            tags[f"pat.version.{name}"] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    commit = _git_commit()
    if commit:
        tags["pat.git_commit"] = commit
    tags.update(process_tags())  # tells a run left RUNNING by a killed process
    return tags


def _git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else None


def qualified_name(value: Any) -> str:
    """A class's or function's import path, as short as its package exports it.

    ``skrl.resources.schedulers.torch.KLAdaptiveLR`` rather than the defining module's
    ``...torch.kl_adaptive.KLAdaptiveLR``: the shortest already imported parent module that
    holds the same object names it. A callable instance is named by its class.
    """
    qualname = getattr(value, "__qualname__", None)
    if not isinstance(qualname, str):
        return qualified_name(type(value))
    module = getattr(value, "__module__", None)
    if not isinstance(module, str) or not module or module == "builtins":
        return qualname
    if "<" not in qualname:  # <locals>, <lambda>: only reachable through their module
        parts = module.split(".")
        for end in range(1, len(parts)):
            parent = sys.modules.get(".".join(parts[:end]))
            if parent is not None and _attribute(parent, qualname) is value:
                return f"{parent.__name__}.{qualname}"
    return f"{module}.{qualname}"


def _attribute(owner: Any, dotted: str) -> Any:
    for name in dotted.split("."):
        owner = getattr(owner, name, None)
    return owner


def _param_text(value: Any) -> str:
    """``value`` as text a person reads: classes and functions by name, never a repr.

    Tuples, lists and mappings are written as Python writes them, with their classes and
    functions named the same way (``(torch.optim.Adam, {'lr': 0.001})``).
    """
    if isinstance(value, str):
        return value
    if isinstance(value, functools.partial):
        arguments = [qualified_name(value.func)]
        arguments += [_element_text(a) for a in value.args]
        arguments += [f"{k}={_element_text(v)}" for k, v in value.keywords.items()]
        return f"functools.partial({', '.join(arguments)})"
    if isinstance(value, type) or callable(value):
        return qualified_name(value)
    if isinstance(value, Mapping | tuple | list):
        return _container_text(value)
    kind = type(value)
    if all(getattr(kind, name) is getattr(object, name) for name in ("__repr__", "__str__")):
        return qualified_name(kind)  # not "<module.Kind object at 0x7f...>"
    return str(value)


def _container_text(value: Mapping[Any, Any] | tuple[Any, ...] | list[Any]) -> str:
    if isinstance(value, Mapping):
        items = ", ".join(f"{_element_text(k)}: {_element_text(v)}" for k, v in value.items())
        return f"{{{items}}}"
    items = ", ".join(_element_text(v) for v in value)
    if isinstance(value, list):
        return f"[{items}]"
    return f"({items},)" if len(value) == 1 else f"({items})"


def _element_text(value: Any) -> str:
    return repr(value) if isinstance(value, str) else _param_text(value)


def flatten_params(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Flatten a nested config into ``a/b/c`` -> text (values cut to MLflow's limit).

    Classes and functions, also inside tuples and lists, are written by their import
    path (``skrl.resources.schedulers.torch.KLAdaptiveLR``), never as ``<class ...>``.
    """
    out: dict[str, str] = {}
    for name, value in config.items():
        key = f"{prefix}/{name}" if prefix else str(name)
        if isinstance(value, Mapping) and value:
            out.update(flatten_params(value, key))
        else:
            out[to_mlflow_key(key)] = _param_text(value)[:_MAX_PARAM_VALUE]
    return out


def readable(value: Any, _depth: int = 0) -> Any:
    """``value`` as YAML/JSON-safe data: mappings, lists, numbers, strings, None.

    Dataclasses (Isaac Lab configclasses) become mappings, tuples and sets lists, numpy
    scalars numbers, and classes, functions and other objects their text (as in params).
    """
    if value is None or type(value) in (bool, int, float, str):
        return value
    if _depth > 64:  # a structure that refers to itself
        return _param_text(value)[:_MAX_PARAM_VALUE]
    if isinstance(value, Mapping):
        return {str(k): readable(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [readable(v, _depth + 1) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return {f.name: readable(getattr(value, f.name, None), _depth + 1) for f in fields}
    return _readable_leaf(value)


def _readable_leaf(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return str(value)
    for kind in (bool, int, float, str):  # numpy's float64, a str subclass: YAML takes exact types
        if isinstance(value, kind):
            return kind(value)
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) == ():  # a numpy or torch scalar
        with contextlib.suppress(Exception):
            number = item()
            if isinstance(number, bool | int | float):
                return number
    return _param_text(value)


def log_params(target: RunTarget, params: Mapping[str, Any]) -> int:
    """Log ``params`` (values as :func:`flatten_params` writes them; ≤ 100 per request).

    A param already on the run with another value (a resumed run) is skipped with a
    warning; the others are logged.

    Returns:
        The number of params logged.
    """
    texts = {to_mlflow_key(str(k)): _param_text(v)[:_MAX_PARAM_VALUE] for k, v in params.items()}
    items = [Item(k, v) for k, v in texts.items()]
    logged = 0
    for start in range(0, len(items), _MAX_PARAMS_PER_REQUEST):
        chunk = items[start : start + _MAX_PARAMS_PER_REQUEST]
        try:
            target.client.log_batch(target.run_id, params=chunk)
            logged += len(chunk)
            continue
        except Exception:  # one bad or changed param: keep the others
            pass
        for param in chunk:
            try:
                target.client.log_batch(target.run_id, params=[param])
                logged += 1
            except Exception as exc:
                _log.warning("pat: param %r not logged: %s", param.key, _first_line(exc))
    return logged


def log_yaml(target: RunTarget, document: Any, artifact_file: str) -> bool:
    """Log ``document`` (made :func:`readable`) as the YAML artifact ``artifact_file``.

    Returns:
        False when it could not be logged (a warning says why).
    """
    import yaml  # type: ignore[import-untyped]

    try:
        text = yaml.safe_dump(readable(document), sort_keys=False)
        target.client.log_text(target.run_id, text, artifact_file)
    except Exception as exc:
        _log.warning("pat: artifact %s not logged: %s", artifact_file, _first_line(exc))
        return False
    return True


def log_agent_config(target: RunTarget, config: Mapping[str, Any]) -> int:
    """Log ``config`` as flattened params and as ``pat/agent_config.yaml``.

    Params already on the run with another value (a resumed run) are skipped.

    Returns:
        The number of params logged.
    """
    logged = log_params(target, flatten_params(config))
    log_yaml(target, config, "pat/agent_config.yaml")
    return logged


def metric_names(summary: Any) -> dict[str, Any]:
    """The contents of ``pat/metric_names.json``: tag -> key, filtered, unmatched, rejected."""
    return {
        "tag_to_key": dict(sorted(summary.tag_table.items())),
        "filtered_tags": sorted(summary.filtered_tags),
        "unmatched_patterns": [
            {"pattern": u.pattern, "kind": u.kind, "suggestions": list(u.suggestions)}
            for u in summary.unmatched
        ],
        "rejected": dict(summary.rejections),
    }


def log_metric_names(target: RunTarget, summary: Any) -> None:
    """Log ``pat/metric_names.json`` (see :func:`metric_names`)."""
    try:
        target.client.log_dict(target.run_id, metric_names(summary), "pat/metric_names.json")
    except Exception as exc:
        _log.warning("pat: metric name table not logged: %s", _first_line(exc))


def log_checkpoints(target: RunTarget, directory: str | os.PathLike[str]) -> bool:
    """Upload the files under ``directory`` as the run's ``checkpoints`` artifacts."""
    if not os.path.isdir(directory) or not any(os.scandir(directory)):
        return False
    try:
        target.client.log_artifacts(target.run_id, os.fspath(directory), "checkpoints")
        return True
    except Exception as exc:
        _log.warning("pat: checkpoints not logged as artifacts: %s", _first_line(exc))
        return False


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def last_logged_step(
    run_id: str,
    tracking_uri: str | None = None,
    client: MlflowClient | RunClient | None = None,
) -> int | None:
    """The largest step of any metric logged to ``run_id``; None when it has none.

    Resuming a run, pass it as ``instrument(..., step_offset=)`` so the metric
    histories continue after it.

    Args:
        run_id: The run.
        tracking_uri: Its store (default: ``MLFLOW_TRACKING_URI`` or MLflow's default).
        client: A client of that store to read with (default: a new ``MlflowClient``).
    """
    client = (
        as_run_client(client) if client is not None else _run_client(tracking_uri or _current_uri())
    )
    keys = client.get_run(run_id).data.metrics
    steps = [m.step for key in keys for m in client.get_metric_history(run_id, key)]
    return max(steps) if steps else None
