"""A durable local spool of metric points that the tracking store could not take (yet).

Layout of a spool directory (``<experiment_dir>/pat_spool`` by default)::

    points.jsonl   append-only, one JSON object per point:
                   {"seq": 7, "run": "<run id>", "key": "...", "value": 1.0,
                    "step": 40, "ts": 1700000000000}
    delivered      {"seq": N}: every point with seq <= N is in the store
                   (replaced atomically: written to a temporary file, fsynced, renamed)
    run.json       the run the points belong to: tracking URI, run id (null until an
                   offline run is created), experiment, run name, final status

Crash safety: each batch is appended with one ``write`` and ``fsync``; a torn last line
(the process died mid-write) is ignored on read, and the next append starts on a new line.
``seq`` grows monotonically and the ``delivered`` marker moves only after the store
accepted every point up to it, so a point is sent again only if the process died between
the store's answer and the marker's update; MLflow's SQL stores keep one row for identical
(key, value, step, timestamp), and points keep their timestamps, so that resend stores
nothing new. A process lock (``flock`` on ``lock``) keeps a training process and ``pat
sync`` from draining the same spool at once.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pat_skrl_mlflow.run_store._sink import MetricPoint

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

__all__ = ["SPOOL_DIRNAME", "Spool", "SpooledPoint"]

SPOOL_DIRNAME = "pat_spool"
POINTS = "points.jsonl"
DELIVERED = "delivered"
RUN = "run.json"
LOCK = "lock"
_ABSENT = (FileNotFoundError, NotADirectoryError)  # a file where a directory should be too


@dataclass(frozen=True, slots=True)
class SpooledPoint:
    """One point read back from a spool."""

    seq: int
    run_id: str
    point: MetricPoint


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def _value_text(value: float) -> str:
    """A point's value as JSON: what ``json.dumps`` writes for the float.

    NaN and infinities (which JSON lacks) as strings ``float()`` reads back. Formatted here,
    not by ``json.dumps`` per point: encoding each point's dict was two thirds of an append
    (benchmark 9).
    """
    text = float.__repr__(float(value))
    return text if math.isfinite(value) else f'"{text}"'


class Spool:
    """An append-only, crash-safe file of metric points waiting for the store.

    Args:
        directory: The spool directory (created on the first append).
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.points_path = self.directory / POINTS
        # re-entrant: a forced exit (second Ctrl-C) may spool from a signal handler that
        # interrupted this thread inside a spool call
        self._lock = threading.RLock()
        self._next_seq: int | None = None
        # (byte offset, seq): every line before the offset has a seq <= seq, which was
        # delivered; reading pending points starts there instead of at the file's start
        self._skip: tuple[int, int] = (0, 0)

    # --- writing -----------------------------------------------------------------------
    def append(self, run_id: str, points: Sequence[MetricPoint]) -> int:
        """Append ``points`` durably (one write, one fsync); returns the last seq used."""
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            seq = self._next() - 1
            lines = []
            run = json.dumps(run_id)
            keys: dict[str, str] = {}
            for p in points:
                seq += 1
                key = keys.get(p.key) or keys.setdefault(p.key, json.dumps(p.key))
                lines.append(
                    f'{{"seq":{seq},"run":{run},"key":{key},"value":{_value_text(p.value)},'
                    f'"step":{int(p.step)},"ts":{int(p.timestamp_ms)}}}\n'
                )
            fd = os.open(self.points_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                size = os.fstat(fd).st_size
                if size and not _ends_with_newline(self.points_path):
                    lines.insert(0, "\n")  # close a torn line so this batch stays readable
                data = "".join(lines).encode("utf-8")
                try:
                    written = 0
                    while written < len(data):  # unbuffered: nothing is written later
                        written += os.write(fd, data[written:])
                    os.fsync(fd)
                except OSError:
                    # a full disk took part of the batch: take it back, so the spool holds
                    # exactly the points counted as kept (the caller counts these as not)
                    with contextlib.suppress(OSError):
                        os.ftruncate(fd, size)
                    raise
            finally:
                os.close(fd)
            self._next_seq = seq + 1
            return seq

    def _next(self) -> int:
        if self._next_seq is None:
            last = max((p.seq for _, p in self._read_from(0)), default=0)
            self._next_seq = max(last, self.delivered_seq()) + 1
        return self._next_seq

    # --- reading -----------------------------------------------------------------------
    def _read_from(self, offset: int) -> Iterator[tuple[int, SpooledPoint]]:
        """(offset after the line, point) for each complete, valid line from ``offset``."""
        try:
            handle = self.points_path.open("rb")
        except _ABSENT:
            return
        with handle:
            if offset > os.fstat(handle.fileno()).st_size:
                offset = 0  # the file was replaced: the hint is stale
            handle.seek(offset)
            for line in handle:
                offset += len(line)
                if not line.endswith(b"\n"):
                    return  # torn last line: the writer died mid-append
                try:
                    record = json.loads(line)
                    point = SpooledPoint(
                        int(record["seq"]),
                        str(record["run"]),
                        MetricPoint(
                            str(record["key"]),
                            float(record["value"]),
                            int(record["step"]),
                            int(record["ts"]),
                        ),
                    )
                except (ValueError, KeyError, TypeError):
                    continue  # a torn line closed by a later append
                yield offset, point

    def _undelivered(self) -> Iterator[SpooledPoint]:
        """Points after the ``delivered`` marker, oldest first.

        Lines are in ``seq`` order, so the delivered ones form a prefix of the file: its
        length is remembered and later reads skip it (a long drain reads the file once).
        """
        done = self.delivered_seq()
        offset, seq = self._skip
        if seq > done:
            offset = 0
        for end, item in self._read_from(offset):
            if item.seq <= done:
                self._skip = (end, done)
                continue
            yield item

    def pending(self, limit: int | None = None) -> list[SpooledPoint]:
        """Points not yet delivered, oldest first (at most ``limit``)."""
        out: list[SpooledPoint] = []
        with self._lock:
            for item in self._undelivered():
                out.append(item)
                if limit is not None and len(out) >= limit:
                    break
        return out

    def pending_count(self) -> int:
        """How many points wait for delivery."""
        with self._lock:
            return sum(1 for _ in self._undelivered())

    def delivered_seq(self) -> int:
        """The highest sequence number known to be in the store (0: none)."""
        try:
            return int(json.loads((self.directory / DELIVERED).read_text())["seq"])
        except (*_ABSENT, ValueError, KeyError, TypeError):
            return 0

    def mark_delivered(self, seq: int) -> None:
        """Record (atomically) that every point up to ``seq`` is in the store."""
        if seq > self.delivered_seq():
            _atomic_write(self.directory / DELIVERED, json.dumps({"seq": seq}))

    def discard_delivered(self, *, above_bytes: int = 0) -> bool:
        """Empty the points file if every point in it is delivered; returns whether it was.

        Only a file larger than ``above_bytes`` is emptied (a small one is left as it is).

        Sequence numbers go on from the ``delivered`` marker, so nothing is numbered twice.
        """
        with self._lock:
            try:
                size = self.points_path.stat().st_size
            except OSError:
                return False
            if size <= above_bytes or self.pending(limit=1):
                return False
            self._next()  # remember the next seq before the file that holds it goes
            with self.points_path.open("r+b") as handle:
                handle.truncate(0)
                os.fsync(handle.fileno())
            self._skip = (0, 0)
            return True

    # --- run description ---------------------------------------------------------------
    def run_info(self) -> dict[str, Any]:
        """The contents of ``run.json`` ({} when absent)."""
        try:
            info = json.loads((self.directory / RUN).read_text())
        except (*_ABSENT, ValueError):
            return {}
        return info if isinstance(info, dict) else {}

    def update_run_info(self, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into ``run.json`` (atomically); returns the new contents."""
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            info = {**self.run_info(), **fields}
            _atomic_write(self.directory / RUN, json.dumps(info, indent=1))
            return info

    @contextlib.contextmanager
    def exclusive(self, *, blocking: bool = True) -> Iterator[bool]:
        """Hold the spool's process lock; yields False when not blocking and it is taken."""
        import fcntl

        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / LOCK).open("a") as handle:
            flags = fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB)
            try:
                fcntl.flock(handle.fileno(), flags)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
