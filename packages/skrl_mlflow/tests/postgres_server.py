"""A throwaway PostgreSQL server on 127.0.0.1 for tests: initdb, start, one database, stop.

``initdb`` and ``postgres`` refuse to run as root; as root the cluster belongs to the
``postgres`` system user (a ``/tmp`` directory it owns: pytest's own temporary
directories are private to root).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from mlflow_server import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

USER = "pat"
_SEARCH = ("/usr/local/bin", *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True))


def find_bin_dir() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl`` (PATH first), or None."""
    on_path = shutil.which("initdb")
    candidates = [str(Path(on_path).parent)] if on_path else []
    for directory in [*candidates, *_SEARCH]:
        if all(os.access(Path(directory) / tool, os.X_OK) for tool in ("initdb", "pg_ctl")):
            return Path(directory)
    return None


class PostgresServer:
    """One cluster in a temporary directory, listening on 127.0.0.1 only, auth ``trust``.

    Use as a context manager: the cluster is stopped and its directory removed on exit,
    whatever happened.
    """

    def __init__(self, bin_dir: Path, port: int | None = None) -> None:
        self.bin_dir = bin_dir
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="pat-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self._as_postgres = os.geteuid() == 0
        self._started = False

    def uri(self, database: str) -> str:
        """SQLAlchemy URI of ``database``, naming psycopg2 (SQLAlchemy 2.1 means psycopg 3)."""
        return f"postgresql+psycopg2://{USER}@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str) -> str:
        """libpq URI of ``database`` (for ``psycopg2.connect``)."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """initdb and start; returns once the server accepts connections."""
        if self._as_postgres:
            shutil.chown(self.root, user="postgres", group="postgres")
        self._run("initdb", "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8")
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root}"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")
        self._started = True

    def create_database(self, name: str) -> str:
        """Create ``name``; returns its URI."""
        import psycopg2

        connection = psycopg2.connect(
            host="127.0.0.1", port=self.port, user=USER, dbname="postgres"
        )
        try:
            connection.autocommit = True  # CREATE DATABASE cannot run in a transaction
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()
        return self.uri(name)

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its directory."""
        try:
            if self._started:
                self._started = False
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin_dir / tool), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(
            command, cwd=self.root, capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{tool} failed ({done.returncode}):\n{done.stderr[-2000:]}\n{log}")


def running_postgres() -> Iterator[PostgresServer]:
    """A started server, stopped and removed afterwards (for fixtures)."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        import pytest

        pytest.skip("no PostgreSQL binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql")
    with PostgresServer(bin_dir) as server:
        yield server
