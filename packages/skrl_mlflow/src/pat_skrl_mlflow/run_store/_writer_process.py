"""Write metric points to an MLflow store from a child process.

Every ``log_batch`` is Python work inside the writing process: with sqlite or a database
SQLAlchemy building statements and the database's I/O; with a tracking server (``http(s)://``,
``databricks``) MLflow's entities, JSON, the HTTP request and pat's read-back of one point.
From a thread of the training process that work holds the GIL against the training loop;
from a child process it runs on another core. The child imports MLflow and opens the store
while training starts, then stores each request it is sent and answers how it went.

``pat train`` goes further for stores MLflow writes in-process: its
:class:`~pat_skrl_mlflow.run_store._writer_client.ProcessClient` has the same child create,
describe and end the run, so the training process never imports MLflow. A tracking server's
run is created and ended from the training process: those requests must not queue behind a
metric request to a server that hangs.

The child has the training process's environment as it is at each request (a token the
training process refreshes in ``MLFLOW_TRACKING_TOKEN`` is the one the child sends next). It
exits when its parent is gone, even in the middle of a request. The parent waits for an
answer from a tracking server at most :func:`answer_timeout` seconds, then stops the child.

Protocol on the child's stdin/stdout: length-prefixed pickles. The parent sends the tracking
URI first (not on the command line: it may hold a password) with whether to open the store
at once, then ``(kind, payload)`` per request (``("environ", (changes, (kind, payload)))``
first applies the parent's environment changes: name -> value, None: removed).
``("metrics", (run_id, points))`` is answered ``("ok", "")``, ``("rejected", reason)``,
``("unauthorized", reason)`` or ``("unavailable", reason)`` -- the outcomes of
:class:`~pat_skrl_mlflow.run_store._sink.MlflowSink.write`; the other kinds are client calls. The
child's :class:`~pat_skrl_mlflow.run_store._writer_server.StoreServer` answers them all. The child
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
import time
from typing import IO, TYPE_CHECKING, Any

from pat_skrl_mlflow.run_store._creation import store_writes_in_process
from pat_skrl_mlflow.run_store._sink import (
    MetricPoint,
    MlflowSink,
    SinkRejected,
    SinkUnauthorized,
    SinkUnavailable,
)

if TYPE_CHECKING:
    from collections.abc import Sequence


__all__ = [
    "PROCESS_VARIABLE",
    "ProcessSink",
    "StoreProcess",
    "answer_timeout",
    "process_enabled",
    "store_writes_in_process",
    "use_process",
]

PROCESS_VARIABLE = "PAT_STORE_PROCESS"
"""Set to ``0`` to write an in-process store from pat's sender thread instead of a child."""
_log = logging.getLogger("pat_skrl_mlflow")
_HEADER = struct.Struct("!I")
_CHILD_CODE = "from pat_skrl_mlflow.run_store._writer_process import main; main()"
_START_UP_SECONDS = 60.0  # MLflow's import in the child, on a loaded machine


def process_enabled() -> bool:
    """Whether pat writes metrics from a child process (``PAT_STORE_PROCESS`` is not ``0``)."""
    return os.environ.get(PROCESS_VARIABLE, "1").strip().lower() not in ("0", "false", "no")


def use_process(tracking_uri: str) -> bool:
    """Whether pat's store writer process does all of MLflow's work for this store.

    True for a store MLflow writes in-process (sqlite, a database) unless
    ``PAT_STORE_PROCESS=0``: ``pat train``'s child also creates, describes and ends the run.
    A tracking server's metrics go through a writer process too (see the module doc).
    """
    return process_enabled() and store_writes_in_process(tracking_uri)


def answer_timeout() -> float:
    """Seconds the parent waits for the child's answer to a metric request to a server.

    MLflow bounds each of the child's calls by its HTTP settings: ``MAX_RETRIES + 1`` tries
    of up to ``MLFLOW_HTTP_REQUEST_TIMEOUT`` seconds each (per connect and per read), with
    ``BACKOFF_FACTOR`` (doubling) and ``BACKOFF_JITTER`` seconds between them. A metric
    request makes up to three calls (``log_batch`` and the read-back); a minute more covers
    the child's start-up. Past that (a server sending its answer a byte at a time is never
    timed out per read) the parent stops the child and the points are spooled.
    """
    retries = _number("MLFLOW_HTTP_REQUEST_MAX_RETRIES", 7)
    timeout = _number("MLFLOW_HTTP_REQUEST_TIMEOUT", 120)
    factor = _number("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", 2)
    jitter = _number("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", 1)
    backoff = sum(min(factor * 2.0**attempt, 120.0) for attempt in range(int(retries)))
    per_call = (retries + 1) * timeout + backoff + retries * jitter
    return 3 * per_call + _START_UP_SECONDS


def _number(name: str, default: float) -> float:
    """An MLflow setting from the environment, else MLflow's default."""
    try:
        return max(0.0, float(os.environ.get(name, default)))
    except ValueError:
        return float(default)


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
        answer_timeout: The longest :meth:`request` waits for an answer; then the child is
            stopped and ``TimeoutError`` raised. None: as long as it takes.

    The child starts at once (it imports MLflow, and opens the store, while training
    starts). A child that died is restarted by the next request; :meth:`request` raises
    ``OSError``/``EOFError``-family errors when it cannot be reached, and ``ValueError``
    once :meth:`close` ran.
    """

    def __init__(
        self, tracking_uri: str, *, open_store: bool = True, answer_timeout: float | None = None
    ) -> None:
        self.tracking_uri = tracking_uri
        self.open_store = open_store
        self.answer_timeout = answer_timeout
        self.child: subprocess.Popen[bytes] | None = None
        self.closed = False
        self._lock = threading.Lock()
        self._environment: dict[str, str] = {}  # this process's, as the child last had it
        try:
            self._start()
        except OSError as exc:  # the first request tries again
            _log.warning("pat: could not start the store writer process: %r", exc)

    def _start(self) -> subprocess.Popen[bytes]:
        self._environment = dict(os.environ)  # what the child inherits
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
            TimeoutError: No answer within ``answer_timeout`` (the child is stopped).
        """
        return self.submit(message).answer(self.answer_timeout)

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
            changes = self._environment_changes()
            if changes:
                message = ("environ", (changes, message))
            _send(child.stdin, message)  # ValueError: close() closed its pipe meanwhile
        except BaseException:
            _stop(child)
            self._lock.release()
            raise
        return PendingAnswer(child.stdout, child, self._lock)

    def _environment_changes(self) -> dict[str, str | None]:
        """This process's environment variables changed since the child had them (lock held)."""
        current = dict(os.environ)
        if current == self._environment:
            return {}
        changes: dict[str, str | None] = {
            name: value for name, value in current.items() if self._environment.get(name) != value
        }
        changes.update(dict.fromkeys(self._environment.keys() - current.keys()))
        self._environment = current
        return changes

    def close(self, timeout: float = 10.0) -> None:
        """Let the child exit; kill it after ``timeout`` seconds.

        A request still in flight on another thread is not waited for (a hung store; its
        sender has given up on it and spooled its points): the child is killed at once and
        that request fails.
        """
        self.closed = True
        idle = self._lock.acquire(blocking=False)
        if idle:
            self._lock.release()
        _stop(self.child, timeout if idle else 0.0)


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

    def answer(self, timeout: float | None = None) -> Any:
        """Wait for the answer and free the process for the next request.

        Args:
            timeout: The longest wait for the answer to begin; None: as long as it takes.

        Raises:
            OSError, EOFError, pickle.UnpicklingError: The child died or was closed.
            TimeoutError: No answer in time; the child is stopped (killed).
        """
        if self._lock is None:
            raise ValueError("this answer was already read")
        try:
            if timeout is not None and not select.select([self._stream], [], [], timeout)[0]:
                _stop(self._child, 0.0)
                raise TimeoutError(
                    f"pat's store writer process did not answer within {timeout:.0f} s"
                )
            return _receive(self._stream)
        except (OSError, ValueError, EOFError, pickle.UnpicklingError):
            _stop(self._child)
            raise
        finally:
            self._lock.release()
            self._lock = None


class ProcessSink(MlflowSink):
    """An :class:`~pat_skrl_mlflow.run_store._sink.MlflowSink` whose requests a child process sends.

    Args:
        client: The store's client in this process (kept for the spool's other runs and
            for callers reading ``client``).
        run_id: The run the points belong to.
        tracking_uri: The store's URI, opened by the child.
        process: A writer process to share (``pat train``'s, which also creates and ends
            the run); closing the sink leaves it to its owner. Default: the sink's own
            (for a tracking server it is waited for at most :func:`answer_timeout`).

    A child that cannot start, dies or does not answer in time makes requests fail as
    unavailable, so the spool keeps their points.
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
        limit = None if store_writes_in_process(tracking_uri) else answer_timeout()
        self.process = process or StoreProcess(tracking_uri, answer_timeout=limit)
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
        except TimeoutError as exc:
            raise SinkUnavailable(f"{exc} (the store hangs?)") from exc
        except (OSError, EOFError, pickle.UnpicklingError) as exc:
            raise SinkUnavailable(f"pat's store writer process ended: {exc!r}") from exc
        if outcome == "rejected":
            raise SinkRejected(reason)
        if outcome == "unauthorized":
            raise SinkUnauthorized(reason)
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
    from pat_skrl_mlflow.run_store._writer_server import StoreServer

    server = StoreServer(*_receive(stdin))
    while True:
        try:
            kind, payload = _receive(stdin)
        except EOFError:
            return
        if kind == "environ":  # the parent's environment changed (a refreshed token)
            changes, (kind, payload) = payload
            for name, value in changes.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        _send(stdout, server.answer(kind, payload))


def _exit_with(parent: int) -> None:
    """End this process once ``parent`` is gone, even mid-request (a thread's loop).

    A request to a hung server would otherwise keep the child (and the terminal's pipes it
    inherited) alive until MLflow's timeout after the training process was killed or left
    on a second Ctrl-C; that request's points are in the spool, or were never safe from a
    crash.
    """
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(1)


def main() -> None:
    """Entry point of the child process (see ``_CHILD_CODE``)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(os.getppid(),), daemon=True).start()
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
