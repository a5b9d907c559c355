"""An HTTP reverse proxy in front of a real ``mlflow server`` that injects faults on demand.

The test switches the mode while a training child logs through the proxy:

- ``pass``: forward to the server and relay its answer.
- ``error``: answer 503, 500, 502 (in turn) without forwarding.
- ``slow``: forward after ``slow_delay`` seconds (longer than the client's timeout): the
  server still stores the request, but the client has given up on it.
- ``hang``: read the request and never answer; the connection is closed without an answer
  once the mode changes (or after ``hang_limit`` seconds).
- ``error_after_forward``: forward (the server stores the batch), then answer 502: the
  acknowledgement is lost, the client believes the request failed.
- ``refuse``: answer ``log-batch`` requests holding metrics with ``refuse_status`` (401,
  403, 404, 429 ...) and an MLflow-style JSON error (or, with ``refuse_html``, an HTML
  page as a gateway sends), without forwarding; every other request is forwarded.
- ``empty_ok``: answer ``log-batch`` requests holding metrics 200 with the body
  ``empty_body`` (``b""`` or ``b"{}"``) without forwarding: a misbehaving gateway.

Every ``log-batch`` request the server answered 200 is recorded point by point (run, key,
step, timestamp), so a test sees what reached the store how often, whatever the store
then does with exact duplicates.
"""

from __future__ import annotations

import collections
import contextlib
import http.client
import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

MODES = ("pass", "error", "slow", "hang", "error_after_forward", "refuse", "empty_ok")
ERROR_STATUSES = (503, 500, 502)
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
}
_LOG_BATCH = "/runs/log-batch"
_ERROR_CODES = {
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    429: "REQUEST_LIMIT_EXCEEDED",
}

StoredPoint = tuple[str, str, int, int]
"""(run id, key, step, timestamp ms) of a point the server accepted."""


class FaultProxy:
    """The proxy; a context manager that always shuts it down.

    Args:
        upstream_port: The port of the ``mlflow server`` on 127.0.0.1.
        slow_delay: How long ``slow`` waits before forwarding.
        hang_limit: The longest a ``hang`` request is held.
    """

    def __init__(
        self, upstream_port: int, *, slow_delay: float = 5.0, hang_limit: float = 120.0
    ) -> None:
        self.upstream_port = upstream_port
        self.slow_delay = slow_delay
        self.hang_limit = hang_limit
        self.requests: collections.Counter[str] = collections.Counter()
        self.log_batches: collections.Counter[str] = collections.Counter()
        self.stored: collections.Counter[StoredPoint] = collections.Counter()
        self.switches: list[tuple[float, str]] = []
        self.refuse_status = 403
        self.refuse_html = False
        self.empty_body = b""
        self._mode = "pass"
        self._changed = threading.Condition()
        self._statuses = itertools.cycle(ERROR_STATUSES)
        self._stopping = False
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self._server.daemon_threads = True
        self._server.block_on_close = False  # never wait for a held request at shutdown
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fault-proxy", daemon=True
        )

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release held requests and stop serving."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    # --- the test's side -----------------------------------------------------------------
    @property
    def mode(self) -> str:
        """The current mode."""
        with self._changed:
            return self._mode

    def set_mode(self, mode: str) -> float:
        """Switch to ``mode``; returns the wall-clock time of the switch."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {MODES}")
        with self._changed:
            self._mode = mode
            now = time.time()
            self.switches.append((now, mode))
            self._changed.notify_all()
        return now

    @contextlib.contextmanager
    def fault(self, mode: str) -> Iterator[None]:
        """``mode`` inside the block, ``pass`` after it (even when the block fails)."""
        self.set_mode(mode)
        try:
            yield
        finally:
            self.set_mode("pass")

    def stored_for(self, run_id: str) -> collections.Counter[tuple[str, int, int]]:
        """(key, step, timestamp) -> how often the server accepted it for ``run_id``."""
        with self._changed:
            return collections.Counter(
                {(k, s, t): n for (r, k, s, t), n in self.stored.items() if r == run_id}
            )

    # --- the handler's side --------------------------------------------------------------
    def _enter(self, path: str) -> str:
        with self._changed:
            mode = self._mode
            self.requests[mode] += 1
            if path.endswith(_LOG_BATCH):
                self.log_batches[mode] += 1
            return mode

    def _hold(self) -> None:
        deadline = time.monotonic() + self.hang_limit
        with self._changed:
            while self._mode == "hang" and not self._stopping:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._changed.wait(remaining)

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        with self._changed:
            while not self._stopping and (remaining := deadline - time.monotonic()) > 0:
                self._changed.wait(remaining)

    def _next_status(self) -> int:
        with self._changed:
            return next(self._statuses)

    def _record(self, path: str, body: bytes) -> None:
        if not path.endswith(_LOG_BATCH):
            return
        request = json.loads(body or b"{}")
        run_id = str(request.get("run_id") or request.get("run_uuid") or "")
        points = [
            (run_id, str(m["key"]), int(m.get("step", 0)), int(m["timestamp"]))
            for m in request.get("metrics", [])
        ]
        with self._changed:
            self.stored.update(points)

    def _forward(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=120)
        try:
            connection.request(method, path, body=body, headers=dict(headers))
            response = connection.getresponse()
            answer = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
            if response.status == 200:
                self._record(path, body)
            return response.status, kept, answer
        finally:
            connection.close()


def _handler_class(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet: the test prints the counts

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while size := int(self.rfile.readline().split(b";")[0], 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                self.rfile.readline()
                return b"".join(chunks)
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            try:
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up (timed out) before the answer came

        def _handle(self) -> None:
            self.close_connection = True
            body = self._body()
            mode = proxy._enter(self.path)
            headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP]
            headers.append(("Content-Length", str(len(body))))
            if mode == "error":
                status = proxy._next_status()
                message = {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "injected fault"}
                self._reply(status, [("Content-Type", "application/json")], _json(message))
                return
            if mode in ("refuse", "empty_ok") and _logs_metrics(self.path, body):
                if mode == "empty_ok":
                    self._reply(200, [("Content-Type", "application/json")], proxy.empty_body)
                elif proxy.refuse_html:
                    page = f"<html><body>{proxy.refuse_status} refused</body></html>".encode()
                    self._reply(proxy.refuse_status, [("Content-Type", "text/html")], page)
                else:
                    code = _ERROR_CODES.get(proxy.refuse_status, "BAD_REQUEST")
                    message = {"error_code": code, "message": "injected refusal"}
                    self._reply(
                        proxy.refuse_status, [("Content-Type", "application/json")], _json(message)
                    )
                return
            if mode == "hang":
                proxy._hold()
                return  # the connection closes without an answer
            if mode == "slow":
                proxy._sleep(proxy.slow_delay)
            status, answer_headers, answer = proxy._forward(self.command, self.path, headers, body)
            if mode == "error_after_forward":
                message = {"error_code": "BAD_GATEWAY", "message": "injected lost answer"}
                self._reply(502, [("Content-Type", "application/json")], _json(message))
                return
            self._reply(status, answer_headers, answer)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle  # noqa: N815

    return Handler


def _logs_metrics(path: str, body: bytes) -> bool:
    """A ``log-batch`` request with metric points (params and tags pass ``refuse``)."""
    return path.endswith(_LOG_BATCH) and bool(json.loads(body or b"{}").get("metrics"))


def _json(value: object) -> bytes:
    return json.dumps(value).encode()
