"""pat's one set of MLflow HTTP settings: fail fast, because pat retries itself.

MLflow's HTTP client retries a dead server for minutes inside one request (7 retries with
back-off, a 120 s timeout). pat's writers retry from the spool, with back-off, and its
readers (``pat inspect``, ``pat runs``) should fail in seconds with a hint, so both use
:data:`HTTP_DEFAULTS` where the user set none. A reachability check (``pat train`` before it
trains) makes no retry at all, for a few seconds at most: :func:`probing_http`.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["HTTP_DEFAULTS", "fail_fast_over_http", "probing_http"]

HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "15",
}
"""MLflow's HTTP settings pat uses where the environment sets none (process-wide)."""


def fail_fast_over_http() -> None:
    """Set MLflow's HTTP retries and timeout to :data:`HTTP_DEFAULTS` where the user set none."""
    for name, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)


@contextlib.contextmanager
def probing_http(timeout_seconds: float) -> Iterator[None]:
    """No retries and a ``timeout_seconds`` timeout per request inside; then as before."""
    names = ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT")
    saved = {name: os.environ.get(name) for name in names}
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = f"{timeout_seconds:g}"
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
