"""Write metric points to a store MLflow runs in-process (sqlite, a database) from a child process.

With such a store every ``log_batch`` is Python work inside the writing process: SQLAlchemy
building statements, holding the GIL, and sqlite's I/O. From a thread of the training process
that work competes with the training loop; from a child process it runs on another core. The
child imports MLflow and opens the store while training starts, then stores each request it
is sent and answers how it went. A tracking server (``http(s)://``, ``databricks``) already
does that work in its own process, so its requests stay on pat's sender thread.

``pat train`` goes further: its :class:`~pat_skrl_mlflow._store_client.ProcessClient` has
the same child create, describe and end the run, so the training process never imports MLflow.

Protocol on the child's stdin/stdout: length-prefixed pickles. The parent sends the tracking
URI first (not on the command line: it may hold a password) with whether to open the store
at once, then ``(kind, payload)`` per
request. ``("metrics", (run_id, points))`` is answered ``("ok", "")``, ``("rejected",
reason)`` or ``("unavailable", reason)`` -- the outcomes of
:class:`~pat_skrl_mlflow._sink.MlflowSink.write`; the other kinds are client calls. The
child's :class:`~pat_skrl_mlflow._store_server.StoreServer` answers them all. The child
ignores Ctrl-C (the parent decides when it ends) and exits when its stdin closes, so it
never outlives the parent.
"""

from __future__ import annotations

import logging
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
from typing import IO, TYPE_CHECKING, Any

from pat_skrl_mlflow._sink import MetricPoint, MlflowSink, SinkRejected, SinkUnavailable

if TYPE_CHECKING:
    from collections.abc import Sequence


__all__ = ["PROCESS_VARIABLE", "ProcessSink", "StoreProcess", "store_writes_in_process"]

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


class StoreProcess:
    """pat's store writer process, seen from the training process: one request at a time.

    Args:
        tracking_uri: The store's URI, opened by the child.
        open_store: Whether the child opens the store as soon as it has imported MLflow
            (else at the first request: opening a sqlite file that is not there creates it).

    The child starts at once (it imports MLflow, and opens the store, while training
    starts). A child that died is restarted by the next request; :meth:`request` raises
    ``OSError``/``EOFError``-family errors when it cannot be reached, and ``ValueError``
    once :meth:`close` ran.
    """

    def __init__(self, tracking_uri: str, *, open_store: bool = True) -> None:
        self.tracking_uri = tracking_uri
        self.open_store = open_store
        self.child: subprocess.Popen[bytes] | None = None
        self.closed = False
        self._lock = threading.Lock()
        try:
            self._start()
        except OSError as exc:  # the first request tries again
            _log.warning("pat: could not start the store writer process: %r", exc)

    def _start(self) -> subprocess.Popen[bytes]:
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD_CODE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,  # a terminal's Ctrl-C goes to the parent only
        )
        if child.stdin is not None:
            _send(child.stdin, (self.tracking_uri, self.open_store))
        self.child = child
        return child

    def request(self, message: Any) -> Any:
        """Send ``message``, return the child's answer (restarting a child that died).

        Raises:
            ValueError: The process was closed.
            OSError, EOFError, pickle.UnpicklingError: The child could not be reached or
                died during the request (it is stopped; the next request starts another).
        """
        return self.submit(message).answer()

    def submit(self, message: Any) -> PendingAnswer:
        """Send ``message`` now; the answer is read later with :meth:`PendingAnswer.answer`.

        Until then the process serves no other request (another thread's waits): submit
        only what is answered on every path, as ``pat train``'s store check before the
        env is built. Raises as :meth:`request`.
        """
        self._lock.acquire()
        if self.closed:
            self._lock.release()
            raise ValueError("pat's store writer process was closed")
        child = self.child
        try:
            if child is None or child.poll() is not None:
                child = self._start()
            if child.stdin is None or child.stdout is None:
                raise OSError("the writer process has no pipes")
            _send(child.stdin, message)  # ValueError: close() closed its pipe meanwhile
        except BaseException:
            _stop(child)
            self._lock.release()
            raise
        return PendingAnswer(child.stdout, child, self._lock)

    def close(self, timeout: float = 10.0) -> None:
        """Let the child finish its request and exit; kill it after ``timeout`` seconds.

        Does not wait for a request in flight on another thread (a hung store): that
        request fails when the child is gone.
        """
        self.closed = True
        _stop(self.child, timeout)


class PendingAnswer:
    """The child's answer to a submitted request, read once (see :meth:`StoreProcess.submit`)."""

    def __init__(
        self, stream: IO[bytes], child: subprocess.Popen[bytes], lock: threading.Lock
    ) -> None:
        self._stream = stream
        self._child = child
        self._lock: threading.Lock | None = lock

    def ready(self) -> bool:
        """Whether :meth:`answer` would return (or fail) without waiting."""
        return self._lock is None or bool(select.select([self._stream], [], [], 0)[0])

    def answer(self) -> Any:
        """Wait for the answer and free the process for the next request.

        Raises:
            OSError, EOFError, pickle.UnpicklingError: The child died or was closed.
        """
        if self._lock is None:
            raise ValueError("this answer was already read")
        try:
            return _receive(self._stream)
        except (OSError, ValueError, EOFError, pickle.UnpicklingError):
            _stop(self._child)
            raise
        finally:
            self._lock.release()
            self._lock = None


class ProcessSink(MlflowSink):
    """An :class:`~pat_skrl_mlflow._sink.MlflowSink` whose requests a child process sends.

    Args:
        client: The store's client in this process (kept for the spool's other runs and
            for callers reading ``client``).
        run_id: The run the points belong to.
        tracking_uri: The store's URI, opened by the child.
        process: A writer process to share (``pat train``'s, which also creates and ends
            the run); closing the sink leaves it to its owner. Default: the sink's own.

    A child that cannot start makes requests fail as unavailable, so the spool keeps
    their points.
    """

    def __init__(
        self,
        client: Any,
        run_id: str,
        tracking_uri: str,
        process: StoreProcess | None = None,
    ) -> None:
        super().__init__(client, run_id)
        self.tracking_uri = tracking_uri
        self._owns_process = process is None
        self.process = process or StoreProcess(tracking_uri)
        self._closed = False

    @property
    def _child(self) -> subprocess.Popen[bytes] | None:
        return self.process.child

    def write(self, points: Sequence[MetricPoint]) -> None:
        """Have the child store ``points`` in one ``log_batch`` request.

        Raises:
            SinkRejected: The store refused the request.
            SinkUnavailable: The store failed, or the child died, could not start or was
                closed.
        """
        if self._closed:
            raise SinkUnavailable("pat's store writer process was closed")
        rows = [(p.key, p.value, p.step, p.timestamp_ms) for p in points]
        try:
            outcome, reason = self.process.request(("metrics", (self.run_id, rows)))
        except ValueError as exc:
            raise SinkUnavailable("pat's store writer process was closed") from exc
        except (OSError, EOFError, pickle.UnpicklingError) as exc:
            raise SinkUnavailable(f"pat's store writer process ended: {exc!r}") from exc
        if outcome == "rejected":
            raise SinkRejected(reason)
        if outcome != "ok":
            raise SinkUnavailable(reason)

    def close(self, timeout: float = 10.0) -> None:
        """End the sink; its own child finishes its request and exits (killed after ``timeout``)."""
        self._closed = True
        if self._owns_process:
            self.process.close(timeout)


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
    """The child: open the store, then answer each request until stdin closes."""
    from pat_skrl_mlflow._store_server import StoreServer

    server = StoreServer(*_receive(stdin))
    while True:
        try:
            kind, payload = _receive(stdin)
        except EOFError:
            return
        _send(stdout, server.answer(kind, payload))


def main() -> None:
    """Entry point of the child process (see ``_CHILD_CODE``)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stdout = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but answers on the pipe, whatever a library prints
    code = 0
    try:
        _serve(sys.stdin.buffer, stdout)
    except BaseException:  # the parent died mid-request (a broken pipe): stop, end nothing
        code = 1
    # Every request was committed before it was answered: skip the interpreter's shutdown
    # (MLflow's and SQLAlchemy's clean-up, ~0.7 s the training process would wait for) and
    # its exit hooks (MLflow's would end the run the parent still owns).
    sys.stderr.flush()
    os._exit(code)
