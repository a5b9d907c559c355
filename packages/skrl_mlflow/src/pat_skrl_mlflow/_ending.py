"""How an instrumented run ends: the last artifacts and its status.

While the store answers: ``pat/metric_names.json``, the checkpoints and the status go to
it (points it did not take in time wait in the spool for ``pat sync``). When the store
was unreachable as training ended, pat does not make three more requests that would each
time out: the name table, the
checkpoint directory and the status are noted in the spool, and ``pat sync`` uploads and
sets them after delivering the points. A second Ctrl-C while ending spools whatever is
still unsent and exits at once (see :func:`forced_exit`).
"""

from __future__ import annotations

import json
import logging
import os
from typing import TYPE_CHECKING, Any

from pat_skrl_mlflow.run_store import SpoolingSink, log_checkpoints, log_metric_names, metric_names

if TYPE_CHECKING:
    from pat_skrl_mlflow._report import Summary
    from pat_skrl_mlflow.run_store import BackgroundSender, RunStatus, RunTarget

__all__ = ["end_run", "forced_exit", "spooling_sink"]

_log = logging.getLogger("pat_skrl_mlflow")


def spooling_sink(sender: BackgroundSender | None) -> SpoolingSink | None:
    """The sender's sink when it spools (always, for runs pat writes to MLflow)."""
    sink = getattr(sender, "sink", None)
    return sink if isinstance(sink, SpoolingSink) else None


def end_run(
    target: RunTarget,
    sender: BackgroundSender | None,
    summary: Summary,
    status: RunStatus,
    *,
    checkpoints: str | None,
    set_status: bool,
) -> None:
    """Log the name table and checkpoints, then end the run (or leave all that to `pat sync`).

    Args:
        target: The run.
        sender: The run's (closed) sender.
        summary: The instrumentation's final summary.
        status: How the run ends.
        checkpoints: skrl's checkpoint directory to upload, or None.
        set_status: Whether pat ends the run (it owns it).
    """
    sink = spooling_sink(sender)
    if sink is not None and not sink.offline and not sink.reachable:
        has_checkpoints = checkpoints is not None and os.path.isdir(checkpoints)
        try:
            names = sink.spool.directory / "artifacts" / "pat" / "metric_names.json"
            names.parent.mkdir(parents=True, exist_ok=True)
            names.write_text(json.dumps(metric_names(summary), indent=1))
            sink.spool.update_run_info(
                artifacts_pending=True,
                checkpoints=os.path.abspath(checkpoints)
                if has_checkpoints and checkpoints
                else None,
            )
            if set_status:
                sink.record_end(status)
        except OSError as exc:
            lost = sender.stats.failed if sender is not None else 0
            _log.warning(
                "pat: the store is unreachable and the spool %s is not writable (%s): %d "
                "metric points could not be kept anywhere; the run stays RUNNING in the store.",
                sink.spool.directory,
                exc.strerror or exc,
                lost,
            )
            return
        finally:
            if set_status:
                target.detach()  # its end is the spool's (or nobody's): not MLflow's exit hook
        _log.warning(
            "pat: the store is unreachable: the run's metric names%s and its %s status wait "
            "in %s for `pat sync`.",
            ", checkpoints" if has_checkpoints else "",
            status,
            sink.spool.directory,
        )
        return
    log_metric_names(target, summary)
    if checkpoints is not None:
        log_checkpoints(target, checkpoints)
    if set_status and not target.end(status) and sink is not None:
        sink.record_end(status)


def forced_exit(target: RunTarget | None, sender: BackgroundSender | None, status: str) -> str:
    """Spool every point not yet stored and note how the run ends; returns what to print.

    Called by the second Ctrl-C while a run ends (then the process exits at once).
    """
    ending: Any = "FAILED" if status == "FAILED" else "KILLED"
    if sender is None:
        return "pat: interrupted again: exiting now."
    points = sender.abandon()
    sink = spooling_sink(sender)
    if sink is None:
        return f"pat: interrupted again: exiting now; {len(points)} metric points not stored."
    waiting = sink.keep(points)
    if target is not None and target.owned:
        sink.record_end(ending)
        target.detach()
    where = sink.spool.directory
    return (
        f"pat: interrupted again: exiting now. {waiting:,} metric points wait in {where}; "
        f"`pat sync {where}` delivers them and ends the run as {ending}."
    )
