"""pat's store writer process: a real child writing a real sqlite store or talking HTTP.

The HTTP tests put a stdlib socket server on 127.0.0.1 in the child's way (answering 503, or
reading requests and never answering): MLflow's client in the child talks to it for real.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from mlflow import MlflowClient

from pat_skrl_mlflow import MetricPoint, MlflowSink
from pat_skrl_mlflow.run_store._sink import SinkRejected, SinkUnavailable
from pat_skrl_mlflow.run_store._spooling_sink import durable_sink
from pat_skrl_mlflow.run_store._writer_process import PROCESS_VARIABLE, ProcessSink, answer_timeout

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.no_skrl  # store-side only: tests_skrl1 leaves it out


def _points(count: int, key: str = "loss", start: int = 0) -> list[MetricPoint]:
    return [
        MetricPoint(key, float(step), step, 1_700_000_000_000 + step)
        for step in range(start, start + count)
    ]


@pytest.fixture
def run(store: str) -> tuple[MlflowClient, str]:
    client = MlflowClient(store)
    return client, client.create_run("0").info.run_id


@pytest.fixture
def sink(store: str, run: tuple[MlflowClient, str]) -> Iterator[ProcessSink]:
    client, run_id = run
    writer = ProcessSink(client, run_id, store)
    yield writer
    writer.close()


def _stored(client: MlflowClient, run_id: str, key: str = "loss") -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def test_points_reach_the_store_through_the_child_with_their_steps_and_values(
    sink: ProcessSink, run: tuple[MlflowClient, str]
) -> None:
    client, run_id = run
    points = [*_points(999), MetricPoint("loss", math.nan, 999, 1_700_000_000_999)]
    sink.write(points)
    stored = _stored(client, run_id)
    assert [step for step, _ in stored] == list(range(1000))
    assert [value for _, value in stored[:999]] == [float(s) for s in range(999)]
    assert math.isnan(stored[999][1])
    assert sink._child is not None
    assert sink._child.pid != os.getpid()


def test_a_refusal_of_the_store_comes_back_as_rejected(
    store: str, run: tuple[MlflowClient, str]
) -> None:
    client, run_id = run
    writer = ProcessSink(client, run_id, store)
    try:
        with pytest.raises(SinkRejected, match=r"(?i)invalid"):
            writer.write([*_points(3), MetricPoint("bad (name)", 1.0, 0, 0)])
    finally:
        writer.close()


def test_a_missing_run_comes_back_as_unavailable(store: str) -> None:
    missing_run = "0" * 32
    writer = ProcessSink(MlflowClient(store), missing_run, store)
    try:
        with pytest.raises(SinkUnavailable, match=r"not found"):
            writer.write(_points(3))
    finally:
        writer.close()


def test_a_killed_child_is_replaced_by_the_next_request(
    sink: ProcessSink, run: tuple[MlflowClient, str]
) -> None:
    client, run_id = run
    sink.write(_points(10))
    first = sink._child
    assert first is not None
    first.kill()
    first.wait()
    sink.write(_points(10, start=10))
    assert sink._child is not None
    assert sink._child.pid != first.pid
    assert [step for step, _ in _stored(client, run_id)] == list(range(20))


def test_the_child_ignores_ctrl_c_and_keeps_writing(
    sink: ProcessSink, run: tuple[MlflowClient, str]
) -> None:
    client, run_id = run
    sink.write(_points(1))  # the child has installed its handlers once it has answered
    assert sink._child is not None
    os.kill(sink._child.pid, signal.SIGINT)
    sink.write(_points(1, start=1))
    assert sink._child.poll() is None
    assert [step for step, _ in _stored(client, run_id)] == [0, 1]


def test_close_ends_the_child_and_later_requests_fail_as_unavailable(sink: ProcessSink) -> None:
    sink.write(_points(1))
    child = sink._child
    assert child is not None
    sink.close()
    assert child.poll() == 0
    with pytest.raises(SinkUnavailable, match="closed"):
        sink.write(_points(1, start=1))
    assert child.poll() == 0  # not restarted


def test_the_child_does_not_outlive_a_parent_that_never_closed_it(
    store: str, run: tuple[MlflowClient, str], tmp_path: Path, child_env: dict[str, str]
) -> None:
    _, run_id = run
    script = tmp_path / "parent.py"
    script.write_text(
        textwrap.dedent(f"""
        import os, sys
        from mlflow import MlflowClient
        from pat_skrl_mlflow import MetricPoint
        from pat_skrl_mlflow.run_store._writer_process import ProcessSink
        sink = ProcessSink(MlflowClient({store!r}), {run_id!r}, {store!r})
        sink.write([MetricPoint("loss", 1.0, 0, 1)])
        print(sink._child.pid, flush=True)
        os._exit(0)  # no close(), no atexit: as a killed training process
        """)
    )
    done = subprocess.run(
        [sys.executable, str(script)], env=child_env, capture_output=True, text=True, check=True
    )
    pid = int(done.stdout.split()[0])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie of a reaped parent counts as gone
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_which_stores_pat_writes_from_a_child(
    store: str, run: tuple[MlflowClient, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, run_id = run
    for name in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    local = durable_sink(client, run_id, tracking_uri=store)
    server = durable_sink(client, run_id, tracking_uri="http://127.0.0.1:5000")
    monkeypatch.setenv(PROCESS_VARIABLE, "0")
    switched_off = durable_sink(client, run_id, tracking_uri=store)
    switched_off_server = durable_sink(client, run_id, tracking_uri="http://127.0.0.1:5000")
    try:
        assert type(local.inner) is ProcessSink  # type: ignore[attr-defined]
        assert local.inner.process.answer_timeout is None  # type: ignore[attr-defined]
        assert type(server.inner) is ProcessSink  # type: ignore[attr-defined]
        # pat's fail-fast settings were set before the child started (it inherits them):
        # 3 calls x (2 tries x 15 s + 1 s backoff + 1 s jitter) + 60 s for its start-up
        assert server.inner.process.answer_timeout == 3 * 32 + 60  # type: ignore[attr-defined]
        assert type(switched_off.inner) is MlflowSink  # type: ignore[attr-defined]
        assert type(switched_off_server.inner) is MlflowSink  # type: ignore[attr-defined]
    finally:
        for each in (local, server, switched_off, switched_off_server):
            each.close(0)  # type: ignore[attr-defined]


# --- a tracking server that refuses or hangs, in the child's way --------------------------


class _Server:
    """A socket server on 127.0.0.1: answers the first ``answered`` requests 503, then
    reads requests and never answers. Records each request's ``Authorization`` header."""

    def __init__(self, answered: int) -> None:
        self.answered = answered
        self.authorizations: list[str] = []
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):  # closed by close()
            while True:
                connection, _ = self._socket.accept()
                request = b""
                while b"\r\n\r\n" not in request:
                    chunk = connection.recv(65536)
                    if not chunk:
                        break
                    request += chunk
                head = request.split(b"\r\n\r\n", 1)[0].decode("latin-1")
                self.authorizations += [
                    line.split(":", 1)[1].strip()
                    for line in head.split("\r\n")
                    if line.lower().startswith("authorization:")
                ]
                if self.answered > 0:
                    self.answered -= 1
                    connection.sendall(
                        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                        b"Connection: close\r\n\r\n"
                    )
                    connection.close()
                else:
                    self._held.append(connection)  # read, never answered

    def close(self) -> None:
        self._socket.close()
        for connection in self._held:
            connection.close()


@pytest.fixture
def http(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Server]:
    """The server, answering the first 2 requests; MLflow's client in the child waits
    120 s for a hung answer and does not retry."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "120")
    server = _Server(answered=2)
    yield server
    server.close()


def test_a_token_refreshed_by_the_training_process_is_the_one_the_child_sends(
    http: _Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "token-1")
    sink = ProcessSink(MlflowClient(http.url), "0" * 32, http.url)  # the child has token-1
    try:
        with pytest.raises(SinkUnavailable, match="503"):
            sink.write(_points(1))
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "token-2")  # refreshed after it started
        with pytest.raises(SinkUnavailable, match="503"):
            sink.write(_points(1, start=1))
    finally:
        sink.close()
    assert http.authorizations == ["Bearer token-1", "Bearer token-2"]


def test_a_child_that_does_not_answer_in_time_is_stopped_and_replaced(http: _Server) -> None:
    http.answered = 1  # then it holds requests
    sink = ProcessSink(MlflowClient(http.url), "0" * 32, http.url)
    try:
        with pytest.raises(SinkUnavailable, match="503"):
            sink.write(_points(1))  # the child is up
        hung = sink._child
        assert hung is not None
        sink.process.answer_timeout = 1.0  # MLflow's own timeout (120 s) would come later
        with pytest.raises(SinkUnavailable, match="did not answer within 1 s"):
            sink.write(_points(1, start=1))
        assert hung.poll() is not None  # stopped
        http.answered, sink.process.answer_timeout = 1, 120.0  # time for its start-up
        with pytest.raises(SinkUnavailable, match="503"):
            sink.write(_points(1, start=2))  # a new child
        assert sink._child is not None
        assert sink._child.pid != hung.pid
    finally:
        sink.close()


def test_close_does_not_wait_for_a_request_to_a_hung_server(http: _Server) -> None:
    http.answered = 0
    sink = ProcessSink(MlflowClient(http.url), "0" * 32, http.url)
    failures: list[BaseException] = []

    def write() -> None:
        try:
            sink.write(_points(1))
        except SinkUnavailable as exc:
            failures.append(exc)

    sender = threading.Thread(target=write)
    sender.start()
    while not http._held:  # the child's request reached the server, which holds it
        assert sender.is_alive()
        time.sleep(0.05)
    child = sink._child
    assert child is not None
    began = time.monotonic()
    sink.close()  # its sender gave up on that request: the child is killed, not awaited
    closed_in = time.monotonic() - began
    sender.join(10)
    assert closed_in < 5, closed_in  # it waited the 10 s close timeout before
    assert child.poll() is not None
    assert [type(exc) for exc in failures] == [SinkUnavailable]


def test_the_child_leaves_a_hung_request_when_its_parent_is_gone(
    http: _Server, tmp_path: Path, child_env: dict[str, str]
) -> None:
    """A second Ctrl-C (``os._exit``) while the child waits on a hung server: the child and
    the terminal's pipe it holds are gone at once, not after MLflow's 120 s timeout."""
    http.answered = 0
    script = tmp_path / "parent.py"
    script.write_text(
        textwrap.dedent(f"""
        import os, threading, time
        from mlflow import MlflowClient
        from pat_skrl_mlflow import MetricPoint
        from pat_skrl_mlflow.run_store._writer_process import ProcessSink
        sink = ProcessSink(MlflowClient({http.url!r}), "0" * 32, {http.url!r})
        point = MetricPoint("loss", 1.0, 0, 1)
        threading.Thread(target=sink.write, args=([point],), daemon=True).start()
        print(sink._child.pid, flush=True)
        while not os.path.exists({str(tmp_path / "held")!r}):
            time.sleep(0.05)
        os._exit(130)
        """)
    )
    env = dict(child_env, MLFLOW_HTTP_REQUEST_MAX_RETRIES="0", MLFLOW_HTTP_REQUEST_TIMEOUT="120")
    parent = subprocess.Popen(
        [sys.executable, str(script)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        deadline = time.monotonic() + 120
        while not http._held:
            assert time.monotonic() < deadline, "the child's request never reached the server"
            time.sleep(0.05)
        (tmp_path / "held").write_text("")
        parent.wait(30)
        gone_by = time.monotonic() + 10
        while time.monotonic() < gone_by and _alive(pid):
            time.sleep(0.05)
        assert not _alive(pid)
    finally:
        if parent.poll() is None:
            parent.kill()


def test_answer_timeout_follows_mlflows_http_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "0")
    # 3 calls x (3 tries x 5 s + backoff 1 + 2 s) + 60 s for the child's start-up
    assert answer_timeout() == 3 * 18 + 60
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "soon")  # MLflow's default: 120 s
    assert answer_timeout() == 3 * (3 * 120 + 3) + 60


def test_a_child_that_cannot_start_fails_requests_as_unavailable(
    store: str, run: tuple[MlflowClient, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fake: process creation failing (out of PIDs, memory) cannot be caused safely here.
    def refuse(*_: object, **__: object) -> None:
        raise OSError(11, "Resource temporarily unavailable")

    client, run_id = run
    monkeypatch.setattr(subprocess, "Popen", refuse)
    writer = ProcessSink(client, run_id, store)  # training goes on: no exception here
    with pytest.raises(SinkUnavailable, match="Resource temporarily unavailable"):
        writer.write(_points(1))
    writer.close()
    assert _stored(client, run_id) == []


def test_processes_opening_one_new_sqlite_file_at_once_all_start(
    tmp_path: Path, child_env: dict[str, str]
) -> None:
    """Issue 15 item 11: the second `pat train` on a new mlflow.db crashed at start with
    "table alembic_version already exists" (both ran MLflow's migrations)."""
    uri = f"sqlite:///{tmp_path / 'new' / 'mlflow.db'}"
    (tmp_path / "new").mkdir()
    go = tmp_path / "go"
    code = textwrap.dedent(
        f"""
        import os, sys, time
        while not os.path.exists({str(go)!r}):
            time.sleep(0.01)
        from pat_skrl_mlflow.run_store._writer_server import StoreServer
        outcome, value = StoreServer({uri!r}).answer("check", None)
        print(outcome, value)
        sys.exit(0 if outcome == "ok" else 1)
        """
    )
    children = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            env=child_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(3)
    ]
    time.sleep(3)  # every child has imported what it needs and waits
    go.write_text("")
    outputs = [child.communicate(timeout=300)[0] for child in children]
    assert [child.returncode for child in children] == [0, 0, 0], outputs
    assert not (tmp_path / "new" / "mlflow.db.lock").exists()
    MlflowClient(uri).create_run("0")  # the store is whole


def test_kill_9_while_sqlite_waits_for_a_lock_loses_nothing(
    tmp_path: Path, store: str, child_env: dict[str, str]
) -> None:
    """Issue 15 item 6: MLflow's 20 s busy wait held points in memory only; kill -9 lost them."""
    import sqlite3

    from pat_skrl_mlflow.run_store._spool import Spool
    from pat_skrl_mlflow.run_store._sync import sync_spool

    client = MlflowClient(store)
    run_id = client.create_run("0").info.run_id
    spool_dir, work = tmp_path / "spool", tmp_path / "work"
    work.mkdir()
    script = Path(__file__).parent / "scripts" / "busy_child.py"
    child = subprocess.Popen(
        [sys.executable, str(script), store, run_id, str(spool_dir), str(work)], env=child_env
    )
    try:
        _wait_for(work / "ready", child)
        database = sqlite3.connect(store.removeprefix("sqlite:///"), isolation_level=None)
        database.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        (work / "locked").write_text("")
        _wait_for(work / "sending", child)
        time.sleep(1.5)  # the request now waits in sqlite's busy timeout
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        database.execute("ROLLBACK")
        database.close()
    finally:
        if child.poll() is None:
            child.kill()
    assert Spool(spool_dir).pending_count() == 300  # on disk before the request was sent
    result = sync_spool(spool_dir)
    assert (result.delivered, result.waiting) == (300, 0)
    assert _stored(client, run_id) == [(s, float(s)) for s in range(800)]


def _wait_for(path: Path, child: subprocess.Popen[bytes], timeout: float = 120) -> None:
    began = time.monotonic()
    while not path.exists():
        assert child.poll() is None, f"the child exited ({child.returncode})"
        assert time.monotonic() - began < timeout, f"no {path.name} after {timeout} s"
        time.sleep(0.05)


@pytest.mark.reliability  # waits out sqlite's 20 s busy timeout
def test_lock_contention_is_one_line_from_pat_not_mlflows_tracebacks(
    tmp_path: Path, store: str, child_env: dict[str, str]
) -> None:
    """Issue 15 item 13: MLflow's ERROR tracebacks flooded the terminal while another
    process held the sqlite lock; pat says it once and keeps the points."""
    import sqlite3

    from pat_skrl_mlflow.run_store._sync import sync_spool

    client = MlflowClient(store)
    run_id = client.create_run("0").info.run_id
    spool_dir, work = tmp_path / "spool", tmp_path / "work"
    work.mkdir()
    script = Path(__file__).parent / "scripts" / "busy_child.py"
    child = subprocess.Popen(
        [sys.executable, str(script), store, run_id, str(spool_dir), str(work)],
        env=child_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    database = sqlite3.connect(store.removeprefix("sqlite:///"), isolation_level=None)
    try:
        _wait_for(work / "ready", child)
        database.execute("BEGIN EXCLUSIVE")
        (work / "locked").write_text("")
        _wait_for(work / "sending", child)
        time.sleep(24)  # past MLflow's 20 s busy wait: the request fails
        database.execute("ROLLBACK")
        output, _ = child.communicate(timeout=180)
    finally:
        database.close()
        if child.poll() is None:
            child.kill()
    assert "Traceback" not in output, output
    assert "SQLAlchemy database error" not in output, output
    assert output.count("pat: the MLflow store is not taking metric points") == 1, output
    result = sync_spool(spool_dir)
    assert result.waiting == 0
    assert _stored(client, run_id) == [(s, float(s)) for s in range(800)]
