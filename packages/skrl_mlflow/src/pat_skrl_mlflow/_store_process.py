"""Write metric points to a store MLflow runs in-process (sqlite, a database) from a child process.

With such a store every ``log_batch`` is Python work inside the writing process: SQLAlchemy
building statements, holding the GIL, and sqlite's I/O. From a thread of the training process
that work competes with the training loop; from a child process it runs on another core. The
child imports MLflow and opens the store while training starts, then stores each request it
is sent and answers how it went. A tracking server (``http(s)://``, ``databricks``) already
does that work in its own process, so its requests stay on pat's sender thread.

Protocol on the child's stdin/stdout: length-prefixed pickles. The parent sends the tracking
URI first (not on the command line: it may hold a password), then ``(run_id, points)`` per
request; the child answers ``("ok", "")``, ``("rejected", reason)`` or ``("unavailable",
reason)`` -- the outcomes of :class:`~pat_skrl_mlflow._sink.MlflowSink.write`. The child
ignores Ctrl-C (the parent decides when it ends) and exits when its stdin closes, so it
never outlives the parent.
"""

from __future__ import annotations

import logging
import os
import pickle
import struct
import subprocess
import sys
import threading
from typing import IO, TYPE_CHECKING, Any

from pat_skrl_mlflow._sink import MetricPoint, MlflowSink, SinkRejected, SinkUnavailable

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mlflow import MlflowClient

__all__ = ["PROCESS_VARIABLE", "ProcessSink", "store_writes_in_process"]

PROCESS_VARIABLE = "PAT_STORE_PROCESS"
"""Set to ``0`` to write an in-process store from pat's sender thread instead of a child."""
_log = logging.getLogger("pat_skrl_mlflow")
_HEADER = struct.Struct("!I")
_CHILD_CODE = "from pat_skrl_mlflow._store_process import main; main()"
_REMOTE_SCHEMES = ("http://", "https://", "databricks")


def store_writes_in_process(tracking_uri: str) -> bool:
    """Whether MLflow writes the store at ``tracking_uri`` from the calling process."""
    return not tracking_uri.startswith(_REMOTE_SCHEMES)


def use_process(tracking_uri: str) -> bool:
    """Whether pat writes this store's metrics from a child process (see the module doc)."""
    enabled = os.environ.get(PROCESS_VARIABLE, "1").strip().lower() not in ("0", "false", "no")
    return enabled and store_writes_in_process(tracking_uri)


def _send(stream: IO[bytes], message: Any) -> None:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(payload)) + payload)
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError("the other side closed the pipe")
    (size,) = _HEADER.unpack(header)
    payload = stream.read(size)
    if len(payload) < size:
        raise EOFError("the other side closed the pipe mid-message")
    return pickle.loads(payload)  # our own child process, over our own pipe


class ProcessSink(MlflowSink):
    """An :class:`~pat_skrl_mlflow._sink.MlflowSink` whose requests a child process sends.

    Args:
        client: The store's client in this process (kept for the spool's other runs and
            for callers reading ``client``).
        run_id: The run the points belong to.
        tracking_uri: The store's URI, opened by the child.

    The child starts at once (it imports MLflow while training starts). A child that died
    is restarted by the next request; one that cannot start makes requests fail as
    unavailable, so the spool keeps their points.
    """

    def __init__(self, client: MlflowClient, run_id: str, tracking_uri: str) -> None:
        super().__init__(client, run_id)
        self.tracking_uri = tracking_uri
        self._lock = threading.Lock()
        self._child: subprocess.Popen[bytes] | None = None
        self._closed = False
        try:
            self._start()
        except OSError as exc:  # the first request tries again, then the spool keeps points
            _log.warning("pat: could not start the store writer process: %r", exc)

    def _start(self) -> subprocess.Popen[bytes]:
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD_CODE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,  # a terminal's Ctrl-C goes to the parent only
        )
        if child.stdin is not None:
            _send(child.stdin, self.tracking_uri)
        self._child = child
        return child

    def write(self, points: Sequence[MetricPoint]) -> None:
        """Have the child store ``points`` in one ``log_batch`` request.

        Raises:
            SinkRejected: The store refused the request.
            SinkUnavailable: The store failed, or the child died, could not start or was
                closed.
        """
        rows = [(p.key, p.value, p.step, p.timestamp_ms) for p in points]
        with self._lock:
            if self._closed:
                raise SinkUnavailable("pat's store writer process was closed")
            child = self._child
            try:
                if child is None or child.poll() is not None:
                    child = self._start()
                if child.stdin is None or child.stdout is None:
                    raise OSError("the writer process has no pipes")
                _send(child.stdin, (self.run_id, rows))
                outcome, reason = _receive(child.stdout)
            except (OSError, ValueError, EOFError, pickle.UnpicklingError) as exc:
                _stop(child)  # ValueError: close() closed its pipe meanwhile
                raise SinkUnavailable(f"pat's store writer process ended: {exc!r}") from exc
        if outcome == "rejected":
            raise SinkRejected(reason)
        if outcome != "ok":
            raise SinkUnavailable(reason)

    def close(self, timeout: float = 10.0) -> None:
        """Let the child finish its request and exit; kill it after ``timeout`` seconds.

        Does not wait for a request in flight on another thread (a hung store): that
        request fails as unavailable when the child is gone.
        """
        self._closed = True
        _stop(self._child, timeout)


def _stop(child: subprocess.Popen[bytes] | None, timeout: float = 1.0) -> None:
    """End ``child``: it exits when its stdin closes; killed if it has not after ``timeout``."""
    if child is None:
        return
    try:
        if child.stdin is not None:
            child.stdin.close()
        child.wait(timeout=timeout)
    except (OSError, ValueError, subprocess.TimeoutExpired):
        child.kill()
        child.wait()


def _serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """The child: open the store, then store each request until stdin closes."""
    from mlflow import MlflowClient

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    client = MlflowClient(_receive(stdin))
    while True:
        try:
            run_id, rows = _receive(stdin)
        except EOFError:
            return
        try:
            MlflowSink(client, run_id).write([MetricPoint(*row) for row in rows])
            answer = ("ok", "")
        except SinkRejected as exc:
            answer = ("rejected", str(exc))
        except SinkUnavailable as exc:
            answer = ("unavailable", str(exc))
        _send(stdout, answer)


def main() -> None:
    """Entry point of the child process (see ``_CHILD_CODE``)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stdout = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but answers on the pipe, whatever a library prints
    _serve(sys.stdin.buffer, stdout)
    # Every request was committed before it was answered: skip the interpreter's shutdown
    # (MLflow's and SQLAlchemy's clean-up, ~0.7 s the training process would wait for).
    sys.stderr.flush()
    os._exit(0)
