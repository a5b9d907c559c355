"""The `Instrumentation`: what `instrument(agent)` installs on a skrl agent, and what it keeps."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from pat_skrl_mlflow import _agent, _lifecycle
from pat_skrl_mlflow._ending import end_run, forced_exit
from pat_skrl_mlflow._report import Summary, TagStats, as_float, report_unknown_patterns
from pat_skrl_mlflow.capture import AgentHooks, CapturingDict, DiscardingDict, EnvInfoGate
from pat_skrl_mlflow.run_store import (
    RUN_FILE,
    BackgroundSender,
    MetricPoint,
    RunTarget,
    default_tags,
    durable_sink,
    experiment_dir,
    linger_seconds,
    log_agent_config,
    set_tags,
    write_run_file,
)
from pat_skrl_mlflow.window import (
    MetricPipeline,
    Pacer,
    RankInfo,
    aggregate_across_ranks,
    make_mapper,
    primary_stat,
    skrl_aliases,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from types import TracebackType

    from pat_core import LogInterval, MetricFilter, UnmatchedPattern

__all__ = ["ATTRIBUTE", "Instrumentation"]

_log = logging.getLogger("pat_skrl_mlflow")
ATTRIBUTE = "_pat_instrumentation"
"""The agent attribute that holds its open instrumentation."""


class Instrumentation:
    """An agent instrumented by :func:`~pat_skrl_mlflow.instrument` (the handle).

    Use it as a context manager, or call :meth:`close` (alias :meth:`remove`) when
    training is done; either way the process-exit hooks finish it otherwise.
    """

    def __init__(
        self,
        agent: Any,
        *,
        interval: LogInterval,
        metric_filter: MetricFilter,
        extra_reducers: Mapping[str, Sequence[str]] | None,
        aliases: Mapping[str, str] | None,
        flatten_depth: int,
        environment_info: Sequence[str],
        target: RunTarget | None,
        ranks: RankInfo,
        aggregate_ranks: bool,
        sender_options: Mapping[str, Any],
        flush_timeout: float,
        upload_checkpoints: bool,
        episode_stats: bool,
        step_offset: int = 0,
        capture_only: bool = False,
        bind: Callable[[], RunTarget] | None = None,
    ) -> None:
        self.agent = agent
        self._bind = bind  # a run bound lazily: resolved when the first window is logged
        self._unbound: list[MetricPoint] = []  # windows logged before the run could be bound
        self._sender_options = dict(sender_options)
        self.on_close: list[Callable[[], None]] = []  # undo what a caller set up with it
        self.capture_only = capture_only
        self.episode_stats = episode_stats
        self._tensorboard: bool | None = None  # skrl's writer on? known at the first step
        self._saved_write_interval: Any = None
        self.interval = interval
        self.ranks = ranks
        self.aggregate_ranks = aggregate_ranks and ranks.distributed
        self.target = target
        self.flush_timeout = flush_timeout
        self.upload_checkpoints = upload_checkpoints
        self.pacer = Pacer(interval, step_offset)
        self.windows = 0
        # a closed window whose points are not submitted yet: (step, this rank's own values)
        self._closing: tuple[int, dict[str, float]] | None = None
        self.closed = False
        self._errors: set[str] = set()
        self._counts: dict[str, int] = {}
        self._lasts: dict[str, Any] = {}
        self._lock = threading.RLock()
        self.mapper = make_mapper(_agent.agent_uids(agent), dict(aliases or {}))
        self.filter = metric_filter
        self.pipeline = MetricPipeline(
            mapper=self.mapper,
            metric_filter=metric_filter,
            extra_reducers=extra_reducers,
            flatten_depth=flatten_depth,
        )
        self._add = self.pipeline.window.add
        self.gate = EnvInfoGate(environment_info)
        self._nonexistent = _agent.nonexistent_tags(agent)
        self.sender = self._make_sender(target) if target is not None else None
        capturing = ranks.is_writer or self.aggregate_ranks
        self.hooks = AgentHooks(
            agent,
            tracking_data=(
                CapturingDict(
                    self._on_value_counted if capture_only else self._on_value,
                    self._retain,
                    agent.tracking_data,
                )
                if capturing
                else DiscardingDict()
            ),
            on_infos=self._on_infos if capturing else None,
            on_boundary=self._on_boundary if capturing else None,
        )

    # --- public ------------------------------------------------------------------------
    @property
    def run_id(self) -> str | None:
        """The MLflow run written to; None on ranks that do not write."""
        return None if self.target is None else self.target.run_id

    @property
    def every(self) -> int | None:
        """Timesteps between logs, once the first step resolved the interval."""
        return self.pacer.every

    @property
    def tag_table(self) -> dict[str, str]:
        """Skrl tag -> MLflow key for every tag seen so far."""
        return self.mapper.mapping

    @property
    def tag_stats(self) -> list[TagStats]:
        """Per tag, in first-seen order: key, reducer, values tracked and the last one.

        Only counted in capture-only mode (``instrument(agent, run=None)``); empty otherwise.
        Environment-info values are counted once per refresh, as they are logged.
        """
        with self._lock:
            counts, lasts = dict(self._counts), dict(self._lasts)
        return [
            TagStats(tag, self.mapper.key(tag), primary_stat(tag), count, as_float(lasts[tag]))
            for tag, count in counts.items()
        ]

    @property
    def unmatched_patterns(self) -> list[UnmatchedPattern]:
        """Filter patterns that matched none of the tags and keys seen so far."""
        return self.filter.unmatched()

    def summary(self) -> Summary:
        """Counters, names and unmatched patterns so far."""
        stats = self.sender.stats if self.sender is not None else None
        return Summary(
            run_id=self.run_id,
            points_logged=stats.stored if stats else 0,
            points_waiting=stats.in_spool if stats else 0,
            spool=str(stats.spool) if stats and stats.spool and stats.spooled else None,
            points_rejected=(stats.rejected + stats.rejected_from_spool) if stats else 0,
            points_filtered=self.pipeline.points_filtered,
            points_dropped=stats.dropped if stats else 0,
            points_failed=(stats.failed if stats else 0) + len(self._unbound),
            points_pending=stats.pending if stats else 0,
            windows=self.windows,
            tag_table=self.tag_table,
            filtered_tags=tuple(self.pipeline.filtered_tags),
            skipped_tags=dict(self.pipeline.skipped),
            rejections=dict(stats.rejections) if stats else {},
            unmatched=tuple(self.unmatched_patterns),
            env_refreshes=self.gate.refreshes,
            env_stale_values=self.gate.stale_values,
        )

    def flush(self, timeout: float | None = None) -> bool:
        """Send the values tracked so far and wait until they are stored.

        The partial window is not combined across ranks (only the trainer's own
        boundaries are, where every rank is sure to take part).

        Returns:
            True when nothing is left to send.
        """
        with self._lock:
            self._emit_partial(collective=False)
        return self.sender.flush(timeout) if self.sender is not None else True

    def close(self, status: str | None = None) -> Summary:
        """Log the last partial window, wait for delivery, restore the agent.

        Args:
            status: How the run ends when pat owns it: ``"FINISHED"`` (default),
                ``"FAILED"`` or ``"KILLED"``.

        Returns:
            The final summary (also logged).
        """
        return self._finish(status or "FINISHED", end_foreign_run=False)

    remove = close

    def __enter__(self) -> Instrumentation:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        elif issubclass(exc_type, KeyboardInterrupt):
            self._finish("KILLED", end_foreign_run=False)
        else:
            self._finish("FAILED", end_foreign_run=False)

    # --- setup -------------------------------------------------------------------------
    def _make_sender(self, target: RunTarget) -> BackgroundSender:
        return BackgroundSender(
            durable_sink(target.client, target.run_id, self.agent, target.tracking_uri),
            **{"linger_seconds": linger_seconds(target.tracking_uri), **self._sender_options},
        )

    def _start(self, log_config: bool, task: str | None) -> None:
        self._log_config, self._task = log_config, task
        self.hooks.install()
        self.agent.__dict__[ATTRIBUTE] = self
        if self.target is not None or self._bind is not None:
            report_unknown_patterns(self.filter, skrl_aliases(_agent.agent_uids(self.agent)))
        if self.target is not None:
            self._describe_run(log_config, task)
        if self.target is not None or self._bind is not None or self.aggregate_ranks:
            _lifecycle.register(self)

    def _bind_run(self) -> bool:
        """Resolve a lazily bound run (lock held); False while it cannot be resolved.

        The caller's active run if there is one by now, else ``MLFLOW_RUN_ID``, else a
        run pat starts (and ends); its tags and params are written now.
        """
        if self.target is not None:
            return True
        if self._bind is None:
            return False
        try:
            target = self._bind()
        except Exception as exc:  # the store is not there yet: the windows wait in memory
            self._report_error("starting the MLflow run", exc)
            return False
        self._bind = None
        self.target = target
        self.sender = self._make_sender(target)
        try:
            self._describe_run(self._log_config, self._task)
        except Exception as exc:
            self._report_error("describing the run", exc)
        if self._unbound:
            self.sender.submit(self._unbound)
            self._unbound = []
        return True

    def _describe_run(self, log_config: bool, task: str | None) -> None:
        assert self.target is not None
        tags = default_tags(self.agent, task=task)
        tags["pat.log_interval"] = str(self.interval)
        set_tags(self.target.run_id, tags, self.target.client)
        directory = experiment_dir(self.agent)
        if directory is not None:  # a checkpoint of this training names its run
            try:
                write_run_file(directory, self.target.run_id, self.target.tracking_uri)
            except OSError as exc:
                _log.warning("pat: could not write %s in %s: %s", RUN_FILE, directory, exc)
        if log_config:
            log_agent_config(self.target, _agent.cfg_as_dict(self.agent.cfg))

    # --- capture (training thread) -----------------------------------------------------
    def _retain(self) -> bool:
        if self._tensorboard is not None:
            return self._tensorboard
        interval = getattr(self.agent, "write_interval", "auto")
        return not isinstance(interval, int) or interval > 0

    def _check_tensorboard(self) -> None:
        """At the first step: is skrl's writer on? If not, keep episode stats coming.

        skrl records episode rewards and lengths only while ``write_interval > 0``
        (TensorBoard on). With it off (``0``, ``"auto"`` with under 100 timesteps, ranks
        > 0) a write interval no run reaches turns the recording on without any write.
        """
        interval = getattr(self.agent, "write_interval", None)
        self._tensorboard = not (isinstance(interval, int) and interval <= 0)
        if not self._tensorboard and self.episode_stats:
            self._saved_write_interval = interval
            self.agent.write_interval = sys.maxsize

    def _on_value(self, tag: str, value: Any) -> None:
        # called for every tracked value: keep it to a few attribute lookups
        if self.closed or tag in self._nonexistent or not self.gate.allows(tag):
            return
        try:
            self._add(tag, value)
        except Exception as exc:
            self._report_error("capture", exc)

    def _on_value_counted(self, tag: str, value: Any) -> None:
        if self.closed or tag in self._nonexistent or not self.gate.allows(tag):
            return
        self._counts[tag] = self._counts.get(tag, 0) + 1
        self._lasts[tag] = value
        try:
            self._add(tag, value)
        except Exception as exc:
            self._report_error("capture", exc)

    def _on_infos(self, infos: Any) -> None:
        try:
            self.gate.observe(infos)
        except Exception as exc:
            self._report_error("environment info", exc)

    def _on_boundary(self, timestep: int, timesteps: int | None) -> None:
        if self.closed:
            return
        try:
            with self._lock:
                self._advance(timestep, timesteps)
        except Exception as exc:
            self._report_error("logging window", exc)

    def _advance(self, timestep: int, timesteps: int | None) -> None:
        pacer = self.pacer
        if not pacer.started:
            self._check_tensorboard()
            pacer.start(self.agent, timesteps)
        step = pacer.advance(timestep, timesteps)
        if step.restart_at is not None and len(self.pipeline.window):
            self._emit(step.restart_at)
        if step.boundary is not None:
            self._emit(step.boundary)
        if step.finished:
            self._emit_partial()
            if self.sender is not None:
                self.sender.flush(self.flush_timeout)

    def _emit_partial(self, *, collective: bool = True) -> None:
        if len(self.pipeline.window):
            self._emit(self.pacer.partial_step(), collective=collective)

    def _emit(self, step: int, *, collective: bool = True) -> None:
        values, reducers = self.pipeline.close_window()
        # SIGTERM's handler finishes the run in this thread, maybe inside the collective
        # below: _finish then logs this window as the rank's own instead of losing it
        self._closing = (step, values)
        if self.aggregate_ranks and collective:
            try:
                values = aggregate_across_ranks(reducers)
            except Exception as exc:  # a rank is gone: this rank's own window, not nothing
                self.aggregate_ranks = False  # the group is broken: no further collectives
                _log.warning(
                    "pat: combining the window at step %d across ranks failed (%s); this "
                    "process logs its own windows from now on",
                    step,
                    str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__,
                )
        if self._closing is None:  # a finish, run by a signal meanwhile, logged it
            return
        self._closing = None
        self._submit(step, values)

    def _submit(self, step: int, values: dict[str, float]) -> None:
        self.windows += 1
        self.pacer.last_emitted = step
        if not values:
            return
        now = int(time.time() * 1000)
        points = [MetricPoint(k, v, step, now) for k, v in values.items()]
        if self.sender is None and self._bind is not None and not self._bind_run():
            room = self._sender_options.get("max_queue_points", 100_000) - len(self._unbound)
            self._unbound.extend(points[: max(0, room)])
            return
        if self.sender is not None:
            self.sender.submit(points)

    def _report_error(self, where: str, exc: Exception) -> None:
        if where not in self._errors:
            self._errors.add(where)
            _log.warning("pat: %s failed (training continues): %r", where, exc)

    # --- finish ------------------------------------------------------------------------
    def _finish_at_exit(self, status: str) -> None:
        self._finish(status, end_foreign_run=True)

    def _finish(self, status: str, *, end_foreign_run: bool) -> Summary:
        with self._lock:
            if self.closed:
                return self.summary()
            try:
                if self._closing is not None:  # a signal came while a window was pooled
                    step, own = self._closing
                    self._closing = None
                    self._submit(step, own)
                # not a collective: ranks may not close together (an exception, a signal)
                self._emit_partial(collective=False)
                if self._unbound:  # a last try: the store may be there now
                    self._bind_run()
            except Exception as exc:
                self._report_error("last window", exc)
            self.closed = True
            if self._unbound:
                _log.warning(
                    "pat: %d metric points were not stored: no MLflow run could be started.",
                    len(self._unbound),
                )
        _lifecycle.unregister(self)
        target = self.target
        with _lifecycle.ctrl_c_exits(lambda: forced_exit(target, self.sender, status)):
            if self.sender is not None:
                self.sender.close(self.flush_timeout)
            if target is not None:
                directory = experiment_dir(self.agent)
                end_run(
                    target,
                    self.sender,
                    self.summary(),
                    status,  # type: ignore[arg-type]
                    checkpoints=os.path.join(directory, "checkpoints")
                    if directory and self.upload_checkpoints
                    else None,
                    set_status=target.owned or (end_foreign_run and target.active),
                )
        self.hooks.remove()
        for undo in self.on_close:
            try:
                undo()
            except Exception as exc:
                self._report_error("closing", exc)
        if self._saved_write_interval is not None:
            self.agent.write_interval = self._saved_write_interval
        self.agent.__dict__.pop(ATTRIBUTE, None)
        summary = self.summary()
        if target is not None:
            problems = summary.unmatched or summary.points_rejected or summary.points_dropped
            level = logging.WARNING if problems or summary.points_failed else logging.INFO
            _log.log(level, "%s", summary)
        return summary
