"""A real ``mlflow server`` on 127.0.0.1 that tests start, stop and restart on one store."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import closing
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

STARTUP_TIMEOUT = 180.0


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def healthy(url: str) -> bool:
    """Whether the server at ``url`` answers ``/health``."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


class MlflowServer:
    """One server process at a fixed port; ``stop()``/``start()`` at will.

    The backend store is ``root/server.db`` (sqlite) unless ``store`` names another
    (e.g. a PostgreSQL URI); ``workers`` is ``mlflow server --workers``.
    """

    def __init__(
        self, root: Path, port: int | None = None, *, store: str | None = None, workers: int = 1
    ) -> None:
        self.root = root
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.store = store or f"sqlite:///{root / 'server.db'}"
        self.workers = workers
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> float:
        """Start the server and wait until it answers; returns the seconds it took."""
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        env.pop("MLFLOW_TRACKING_URI", None)
        command = [
            sys.executable, "-m", "mlflow", "server",
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers),
            "--backend-store-uri", self.store,
            "--artifacts-destination", str(self.root / "artifacts"),
        ]  # fmt: skip
        self.starts += 1
        log = (self.root / f"server-{self.starts}.log").open("w")
        began = time.monotonic()
        self.process = subprocess.Popen(
            command, cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        while not healthy(self.url):
            if self.process.poll() is not None or time.monotonic() - began > STARTUP_TIMEOUT:
                self.stop()
                text = (self.root / f"server-{self.starts}.log").read_text()[-3000:]
                raise RuntimeError(f"mlflow server did not start:\n{text}")
            time.sleep(0.3)
        return time.monotonic() - began

    def stop(self, sig: int = signal.SIGKILL) -> None:
        """Stop the server and its workers (SIGKILL by default: a crash, not a shutdown)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@contextlib.contextmanager
def sqlite_server(root: Path, empty_store: Path) -> Iterator[MlflowServer]:
    """A started server on a copy of the initialised empty store in ``root``; always stopped."""
    (root / "server.db").write_bytes(empty_store.read_bytes())
    server = MlflowServer(root)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def wait_for_file(path: Path, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait until a child process writes ``path`` (fail if it exits first or time runs out)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"child exited ({process.returncode}) before {path.name}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {path.name} within {timeout} s")
        time.sleep(0.1)
