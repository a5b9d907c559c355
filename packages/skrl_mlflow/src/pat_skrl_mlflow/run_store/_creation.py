"""Create a new sqlite store once, however many processes open it at the same moment.

MLflow creates a sqlite store's schema (its migrations take seconds) in whichever process
opens the file first. Two ``pat train`` started together on one new ``mlflow.db`` both
found no tables and both ran the migrations; the second crashed with "table
alembic_version already exists". :func:`open_store` holds an ``flock`` on
``<database>.lock`` next to the file while the schema may be created, so the second
process waits for the first and then finds the tables.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING

from pat_skrl_mlflow.run_store._store_address import sqlite_path

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from mlflow import MlflowClient

__all__ = ["open_store", "store_writes_in_process"]

LOCK_SUFFIX = ".lock"
_REMOTE_SCHEMES = ("http://", "https://", "databricks")


def store_writes_in_process(tracking_uri: str) -> bool:
    """Whether MLflow writes the store at ``tracking_uri`` from the calling process.

    True for sqlite, database URIs and files; False for a tracking server (``http(s)://``,
    ``databricks``), which does that work in its own process.
    """
    return not tracking_uri.startswith(_REMOTE_SCHEMES)


def open_store(uri: str) -> MlflowClient:
    """An ``MlflowClient`` of ``uri`` whose store has been opened (its schema checked).

    A sqlite store that does not exist yet, or that another process is creating right
    now, is opened under the creation lock. MLflow's own traceback for each failed database
    session (``ERROR ... SQLAlchemy database error``, many per second while another process
    holds a sqlite lock) is turned off: the error still reaches pat, which reports it in
    one line.
    """
    import logging

    from mlflow import MlflowClient

    logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)

    with _creation_lock(sqlite_path(uri)):
        client = MlflowClient(uri)  # may create the schema already
        client.search_experiments(max_results=1)
    return client


@contextlib.contextmanager
def _creation_lock(database: Path | None) -> Iterator[None]:
    if database is None:
        yield
        return
    lock = database.with_name(database.name + LOCK_SUFFIX)
    complete = database.is_file() and database.stat().st_size > 0 and not lock.exists()
    if complete or not database.parent.is_dir():  # nothing to create / MLflow says why
        yield
        return
    import fcntl

    with lock.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            # the schema exists now: later processes take the fast path (one that opened
            # this file before it went finds the tables too)
            with contextlib.suppress(OSError):
                os.unlink(lock)
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
