"""Finish every open instrumentation when the process ends, however it ends.

- Normal exit: an ``atexit`` hook flushes and ends pat's runs as ``FINISHED``.
- Uncaught exception: ``sys.excepthook`` notes it, so the ``atexit`` hook ends the
  runs as ``FAILED`` (``KILLED`` for ``KeyboardInterrupt``) after flushing.
- ``SIGTERM``: a handler flushes, ends the runs as ``KILLED``, then hands the signal to
  the previous handler (by default the process still dies of ``SIGTERM``).

- While a run ends (the flush, the last uploads): Ctrl-C — for most users the second
  one — spools what is unsent and exits at once with code 130 (:func:`ctrl_c_exits`).

Our ``atexit`` hook is registered after MLflow's own, so it runs first and MLflow's
``end_run`` at exit finds the run already ended with the right status.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import FrameType, TracebackType

__all__ = ["FORCED_EXIT_CODE", "ctrl_c_exits", "register", "unregister"]

_log = logging.getLogger("pat_skrl_mlflow")

Status = Literal["FINISHED", "FAILED", "KILLED"]
FORCED_EXIT_CODE = 130
"""The exit code of a process a Ctrl-C ended while pat was ending its run (128 + SIGINT)."""


class Finishable(Protocol):
    """What the lifecycle hooks call on an open instrumentation."""

    def _finish_at_exit(self, status: Status) -> None: ...


_open: list[Finishable] = []
_lock = threading.RLock()
_installed = False
_exit_status: Status | None = None
_previous_excepthook: Callable[..., object] | None = None
_previous_sigterm: signal.Handlers | Callable[[int, FrameType | None], object] | int | None = None


def register(item: Finishable, *, handle_signals: bool = True) -> None:
    """Finish ``item`` when the process ends (install the hooks on first use)."""
    with _lock:
        if item not in _open:
            _open.append(item)
        _install(handle_signals)


def unregister(item: Finishable) -> None:
    """Stop tracking ``item`` (it was finished by its owner)."""
    with _lock:
        if item in _open:
            _open.remove(item)


def _install(handle_signals: bool) -> None:
    global _installed, _previous_excepthook, _previous_sigterm  # noqa: PLW0603
    if _installed:
        return
    _installed = True
    atexit.register(_at_exit)
    _previous_excepthook = sys.excepthook
    sys.excepthook = _excepthook
    if not handle_signals or threading.current_thread() is not threading.main_thread():
        return
    try:
        current = signal.getsignal(signal.SIGTERM)
        if current is signal.SIG_IGN:
            return
        _previous_sigterm = current
        signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError) as exc:  # not the main interpreter / platform limits
        _log.debug("pat: SIGTERM handler not installed: %s", exc)


def _finish_all(status: Status) -> None:
    with _lock:
        items = list(_open)
        _open.clear()
    for item in items:
        try:
            item._finish_at_exit(status)
        except Exception as exc:
            _log.warning("pat: could not finish MLflow logging at exit: %s", exc)


def _at_exit() -> None:
    _finish_all(_exit_status or "FINISHED")


def _excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    global _exit_status  # noqa: PLW0603
    _exit_status = "KILLED" if issubclass(exc_type, KeyboardInterrupt) else "FAILED"
    hook = _previous_excepthook or sys.__excepthook__
    hook(exc_type, exc, tb)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    _finish_all("KILLED")
    previous = _previous_sigterm
    if callable(previous):
        previous(signum, frame)
        return
    signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
    os.kill(os.getpid(), signal.SIGTERM)


@contextlib.contextmanager
def ctrl_c_exits(keep: Callable[[], str]) -> Iterator[None]:
    """While the block runs, Ctrl-C calls ``keep`` and ends the process at once.

    ``keep`` saves what must not be lost (fast, local) and returns a line to print. The
    process then exits with :data:`FORCED_EXIT_CODE` without running exit hooks: the
    flush or upload it interrupted may be waiting on an unreachable store. Only on the
    main thread (where Python runs signal handlers); elsewhere the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def exit_now(signum: int, frame: FrameType | None) -> None:
        try:
            message = keep()
        except BaseException as exc:  # exit anyway: the user asked twice
            message = f"pat: interrupted again: exiting now; saving unsent points failed: {exc!r}"
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.write(message + "\n")
            sys.stderr.flush()
        os._exit(FORCED_EXIT_CODE)

    try:
        previous = signal.signal(signal.SIGINT, exit_now)
    except (ValueError, OSError):  # not the main interpreter
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
