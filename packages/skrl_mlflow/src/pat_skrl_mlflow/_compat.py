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
from typing import TYPE_CHECKING, Any

from pat_skrl_mlflow import _agent
from pat_skrl_mlflow._api import existing, instrument
from pat_skrl_mlflow._instrument import Instrumentation

if TYPE_CHECKING:
    from collections.abc import Callable, Collection

__all__ = ["create_mlflow_logging_wrapper"]


def create_mlflow_logging_wrapper(
    agent: Any,
    mlflow_module: Any,
    metric_filter: Collection[str] | None = None,
    *,
    interval: str | int = "balanced",
    **options: Any,
) -> Callable[..., Any]:
    """Instrument ``agent`` and return a function to assign as its update method.

    Args:
        agent: The skrl agent (``runner.agent``).
        mlflow_module: The ``mlflow`` module; its active run is used (or a run is
            started, honouring ``MLFLOW_RUN_ID`` and friends).
        metric_filter: Names of the metrics to log (pat's keys such as
            ``"policy_loss"``, skrl tags, globs); None logs everything. An empty
            collection is an error (it used to mean "everything").
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
    handle = existing(agent)
    if handle is None:
        run = _active_run(mlflow_module)
        handle = instrument(
            agent, interval=interval, include=include, run=run if run else "auto", **options
        )
    original = _original_update(agent)

    @functools.wraps(original)
    def update(*args: Any, **kwargs: Any) -> Any:
        return original(*args, **kwargs)

    update.instrumentation = handle  # type: ignore[attr-defined]
    return update


def _active_run(mlflow_module: Any) -> Any:
    try:
        return mlflow_module.active_run()
    except Exception:
        return None


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
