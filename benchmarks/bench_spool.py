"""Benchmark 9: the spool as it is (JSONL and a marker file) against a sqlite file.

Issue 16 asks whether the spool would be better as a sqlite file, one transaction per
delivered batch, than as JSONL with a ``delivered`` marker. Both are measured on the path
every request of a sqlite store takes (the spooling sink writes each request's points ahead
to the spool, then marks them delivered once the store took them) and on the drain's read.

- **JSONL**: pat's :class:`~pat_skrl_mlflow.Spool` as shipped: one ``write`` + ``fsync`` per
  append, the marker replaced atomically (temporary file, ``fsync``, rename).
- **sqlite**: the same two steps as two transactions on one sqlite file in WAL mode with
  ``synchronous=FULL`` (as durable as the JSONL spool: each commit reaches the disk): the
  batch inserted with ``executemany``, the marker one ``UPDATE``. A prototype written for
  this measurement, not pat's code.

Interleaved rounds (A B A B ..., one warm-up round discarded), median of >= 5 rounds; each
round is a fresh directory. The ratio is sqlite / JSONL: below 1, sqlite is faster.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _common import Row, interleave, median, paired_ratio, result

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from pat_skrl_mlflow import MetricPoint

NAME = "spool"
TITLE = "9. The spool: JSONL and a marker file (pat's) against a sqlite file (issue 16's question)"
RUN_ID = "0" * 32
KEYS = 25  # a PPO window's keys: skrl's standard tags plus a few env terms


def _points(count: int, start: int) -> list[MetricPoint]:
    from pat_skrl_mlflow import MetricPoint

    return [
        MetricPoint(f"group/key_{i % KEYS}", float(i), start + i // KEYS, 1_700_000_000_000 + i)
        for i in range(count)
    ]


class SqliteSpool:
    """The spool's two write-ahead steps and its read on one sqlite file (the prototype)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.connection = sqlite3.connect(directory / "spool.db", isolation_level=None)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=FULL")
        self.connection.execute(
            "CREATE TABLE IF NOT EXISTS points (seq INTEGER PRIMARY KEY, run TEXT, key TEXT, "
            "value REAL, step INTEGER, ts INTEGER)"
        )
        self.connection.execute("CREATE TABLE IF NOT EXISTS marker (delivered INTEGER)")
        self.connection.execute("INSERT INTO marker VALUES (0)")

    def append(self, run_id: str, points: Sequence[MetricPoint]) -> int:
        rows = [(run_id, p.key, p.value, p.step, p.timestamp_ms) for p in points]
        with self.connection:
            self.connection.execute("BEGIN")
            self.connection.executemany(
                "INSERT INTO points (run, key, value, step, ts) VALUES (?, ?, ?, ?, ?)", rows
            )
            (last,) = self.connection.execute("SELECT max(seq) FROM points").fetchone()
        return int(last)

    def mark_delivered(self, seq: int) -> None:
        with self.connection:
            self.connection.execute("BEGIN")
            self.connection.execute("UPDATE marker SET delivered = ?", (seq,))

    def pending(self, limit: int) -> list[Any]:
        """The next waiting points, as the same objects pat's spool reads back."""
        from pat_skrl_mlflow import MetricPoint
        from pat_skrl_mlflow.run_store._spool import SpooledPoint

        (delivered,) = self.connection.execute("SELECT delivered FROM marker").fetchone()
        rows = self.connection.execute(
            "SELECT seq, run, key, value, step, ts FROM points WHERE seq > ? ORDER BY seq LIMIT ?",
            (delivered, limit),
        ).fetchall()
        return [
            SpooledPoint(seq, run, MetricPoint(key, value, step, ts))
            for seq, run, key, value, step, ts in rows
        ]

    def close(self) -> None:
        self.connection.close()


def _jsonl(directory: Path) -> Any:
    from pat_skrl_mlflow import Spool

    return Spool(directory)


def _cycles(make: Callable[[Path], Any], batch: int, cycles: int) -> float:
    """Seconds per write-ahead cycle (append a request's points, then mark them delivered)."""
    with tempfile.TemporaryDirectory(prefix="pat-bench-spool-") as scratch:
        spool = make(Path(scratch) / "spool")
        batches = [_points(batch, start=c * batch) for c in range(cycles)]
        start = time.perf_counter()
        for points in batches:
            spool.mark_delivered(spool.append(RUN_ID, points))
        seconds = time.perf_counter() - start
        if isinstance(spool, SqliteSpool):
            spool.close()
    return seconds / cycles


def _read(make: Callable[[Path], Any], waiting: int, batch: int) -> float:
    """Seconds to read the next ``batch`` waiting points of ``waiting`` (the drain's read)."""
    with tempfile.TemporaryDirectory(prefix="pat-bench-spool-") as scratch:
        spool = make(Path(scratch) / "spool")
        for start in range(0, waiting, 1000):
            spool.append(RUN_ID, _points(1000, start=start))
        begin = time.perf_counter()
        read = spool.pending(limit=batch)
        seconds = time.perf_counter() - begin
        if len(read) != batch:
            raise RuntimeError(f"read {len(read)} waiting points, not {batch}")
        if isinstance(spool, SqliteSpool):
            spool.close()
    return seconds


def _ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1e3:.2f} ms"


def run(quick: bool) -> dict[str, Any]:
    """Measure both spools; one row per figure, sqlite against JSONL."""
    rounds = 3 if quick else 7
    cycles = 20 if quick else 100
    waiting = 10_000 if quick else 50_000
    figures: list[tuple[str, Callable[[Callable[[Path], Any]], float], str]] = [
        (
            "write-ahead cycle of a 1,000-point request (append, then mark delivered)",
            lambda make: _cycles(make, 1000, cycles),
            "s",
        ),
        (
            "write-ahead cycle of a 50-point request",
            lambda make: _cycles(make, 50, cycles),
            "s",
        ),
        (
            f"drain's read of the next 1,000 of {waiting:,} waiting points",
            lambda make: _read(make, waiting, 1000),
            "s",
        ),
    ]
    rows = []
    for figure, measure, unit in figures:
        samples = interleave(
            {"jsonl": lambda m=measure: m(_jsonl), "sqlite": lambda m=measure: m(SqliteSpool)},
            rounds,
            warmup=1,
            shuffle_seed=9,
        )
        rows.append(
            Row(
                f"sqlite file: {figure}",
                median(samples["sqlite"]),
                "pat's JSONL spool",
                median(samples["jsonl"]),
                unit,
                ratio=paired_ratio(samples["sqlite"], samples["jsonl"]),
                samples=samples["sqlite"],
                baseline_samples=samples["jsonl"],
            )
        )
    big, small, read = rows
    notes = [
        f"{cycles} cycles a round, {rounds} rounds; the temporary directories are on "
        f"{tempfile.gettempdir()} ({os.statvfs(tempfile.gettempdir()).f_bsize} B blocks), "
        "the same disk as the working directory.",
        "Decision: the spool stays JSONL with a marker file. The write-ahead cycle every "
        f"request to a sqlite store takes costs {_ms(big.baseline_value)} for 1,000 points and "
        f"{_ms(small.baseline_value)} for 50 (sqlite: {_ms(big.value)}, {_ms(small.value)}); "
        "the sender thread sends one request per 5 s to such a store, so the difference is "
        "under 0.1 % of a core. The drain's read is faster in sqlite "
        f"({_ms(read.value)} against {_ms(read.baseline_value)} per 1,000 points) but runs "
        "only after an outage. Against a change: every existing spool and `pat sync` would "
        "need a migration, and the spool must take points from a signal handler during a "
        "forced exit (second Ctrl-C) that may have interrupted a thread inside a spool call: "
        "an append is one `write` under a re-entrant lock, while a sqlite connection in the "
        "middle of a transaction cannot be re-entered and another connection would wait for "
        "its lock.",
        "What the first measurement pointed at instead: before, an append encoded each "
        "point's dict with `json.dumps`, two thirds of the cycle (8.8 ms per 1,000 points, "
        "sqlite 0.35 of it); the lines are now formatted directly (the same bytes, "
        "property-tested against `json.dumps`), and the cycle is about 3 ms.",
    ]
    return result(
        NAME,
        TITLE,
        rows,
        quick=quick,
        sizes={"rounds": rounds, "cycles": cycles, "waiting": waiting, "keys": KEYS},
        notes=notes,
    )
