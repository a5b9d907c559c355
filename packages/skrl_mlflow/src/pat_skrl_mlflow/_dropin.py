"""Drop-in replacement for the integration pat replaces.

Its documented usage works by changing only the import::

    from pat_skrl_mlflow import create_mlflow_logging_wrapper

    with mlflow.start_run():
        runner = Runner(env, agent_cfg)
        wrapper_func = create_mlflow_logging_wrapper(
            agent=runner.agent, mlflow_module=mlflow, metric_filter={"policy_loss"}
        )
        runner.agent.update = wrapper_func  # skrl 2.x (runner.agent._update on skrl 1.x)
        runner.run()

Unlike the original, the interval is applied, skrl's tag names are made valid, the
episode reward arrives, multi-agent ``update(..., uid=...)`` works and only rank 0
logs. Capture does not depend on where the returned function is assigned: pat's hooks
do the logging, the function only calls the agent's original update.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
from typing import TYPE_CHECKING, Any

from pat_skrl_mlflow import _agent
from pat_skrl_mlflow._instrument import LAZY, existing, instrument
from pat_skrl_mlflow._instrumentation import Instrumentation

if TYPE_CHECKING:
    from collections.abc import Callable, Collection

__all__ = ["create_mlflow_logging_wrapper"]

_log = logging.getLogger("pat_skrl_mlflow")
_SYSTEM_METRICS_VARIABLE = "MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING"


def create_mlflow_logging_wrapper(
    agent: Any,
    mlflow_module: Any,
    metric_filter: Collection[str] | None = None,
    collect_gpu_metrics: bool = True,
    *,
    interval: str | int = "balanced",
    **options: Any,
) -> Callable[..., Any]:
    """Instrument ``agent`` and return a function to assign as its update method.

    The signature is the replaced one. Making the wrapper starts no run: the run is
    resolved when the first window is logged -- the caller's active run if there is one
    by then (a script may call ``mlflow.start_run(...)`` after making the wrapper),
    else ``MLFLOW_RUN_ID``'s run, else a run pat starts and ends.

    Args:
        agent: The skrl agent (``runner.agent``).
        mlflow_module: The ``mlflow`` module.
        metric_filter: Names of the metrics to log (pat's keys such as
            ``"policy_loss"``, skrl tags, globs); None logs everything. An empty
            collection is an error (it used to mean "everything").
        collect_gpu_metrics: Turn on MLflow's built-in system metrics (CPU, memory,
            disk, network, and GPU when ``nvidia-ml-py`` finds one) for the run; a
            one-line note says when no GPU is found.
        interval: ``"step"``, ``"balanced"`` (the original's default, every 10
            timesteps), ``"rollout"`` or N timesteps.
        **options: More keyword arguments of :func:`~pat_skrl_mlflow.instrument`.

    Returns:
        A function with the agent's update signature (``update(*, timestep,
        timesteps, **kwargs)`` on skrl 2.x, ``_update(timestep, timesteps)`` on 1.x);
        its ``instrumentation`` attribute is the :class:`Instrumentation` handle.

    Raises:
        AttributeError: If ``agent`` has no ``tracking_data`` (not a skrl agent).
        ValueError: If ``metric_filter`` is empty or holds an invalid pattern.
    """
    include = None
    if metric_filter is not None:
        if isinstance(metric_filter, str):
            metric_filter = [metric_filter]
        include = sorted(metric_filter)
        if not include:
            raise ValueError(
                "metric_filter is empty, which would log nothing; pass None to log everything"
            )
    if not hasattr(agent, "tracking_data"):
        raise AttributeError("Agent must have 'tracking_data' attribute (is it a skrl agent?)")
    original = _original_update(agent)
    handle = existing(agent)
    if handle is None:
        options.setdefault("run", LAZY)
        options.setdefault("log_system_metrics", bool(collect_gpu_metrics))
        handle = instrument(agent, interval=interval, include=include, **options)
        if collect_gpu_metrics:
            handle.on_close.append(_system_metrics_on(mlflow_module))

    @functools.wraps(original)
    def update(*args: Any, **kwargs: Any) -> Any:
        return original(*args, **kwargs)

    update.instrumentation = handle  # type: ignore[attr-defined]
    return update


def _system_metrics_on(mlflow_module: Any) -> Callable[[], None]:
    """Turn MLflow's system metrics on for runs started from now on; returns the undo.

    A run the caller starts after making the wrapper (or resumes, as Azure ML's runs are)
    logs them too, as with the replaced integration's ``collect_gpu_metrics``.
    """
    enable = getattr(mlflow_module, "enable_system_metrics_logging", None)
    disable = getattr(mlflow_module, "disable_system_metrics_logging", None)
    was_on = os.environ.get(_SYSTEM_METRICS_VARIABLE)
    if callable(enable):
        enable()
    try:  # nvidia-ml-py: what MLflow's GPU monitor uses
        importlib.import_module("pynvml").nvmlInit()
    except Exception:
        _log.info(
            "pat: collect_gpu_metrics: no NVIDIA GPU found (nvidia-ml-py); MLflow logs CPU, "
            "memory, disk and network system metrics only."
        )

    def undo() -> None:
        if was_on is None and callable(disable):
            disable()
            os.environ.pop(_SYSTEM_METRICS_VARIABLE, None)

    return undo


def _original_update(agent: Any) -> Callable[..., Any]:
    """The agent's current update method (``update`` on skrl 2.x, ``_update`` on 1.x)."""
    name = _agent.update_method_name()
    method = getattr(agent, name, None)
    if not callable(method):
        raise AttributeError(f"{type(agent).__name__} has no {name}() method")
    return method  # type: ignore[no-any-return]


def instrumentation_of(wrapper: Callable[..., Any]) -> Instrumentation | None:
    """The handle behind a wrapper made by :func:`create_mlflow_logging_wrapper`."""
    found = getattr(wrapper, "instrumentation", None)
    return found if isinstance(found, Instrumentation) else None
