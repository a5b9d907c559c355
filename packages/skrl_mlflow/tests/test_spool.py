"""The durable spool: crash-safe file, delivery marker, and the sink that falls back to it."""

from __future__ import annotations

import contextlib
import json
import math
import tempfile
import time
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mlflow import MlflowClient

from mlflow_server import free_port
from pat_skrl_mlflow import HTTP_DEFAULTS, BackgroundSender, MetricPoint, MlflowSink
from pat_skrl_mlflow.run_store._secrets import mask_uri
from pat_skrl_mlflow.run_store._spool import Spool
from pat_skrl_mlflow.run_store._spooling_sink import (
    LOCAL_STORE_LINGER_SECONDS,
    REMOTE_STORE_LINGER_SECONDS,
    SpoolingSink,
    drain,
    linger_seconds,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

pytestmark = pytest.mark.no_skrl  # store-side only: tests_skrl1 leaves it out


def _points(n: int, key: str = "loss", start: int = 0) -> list[MetricPoint]:
    return [MetricPoint(key, float(i), start + i, 1_700_000_000_000 + i) for i in range(n)]


def test_append_and_read_back_keep_order_values_and_special_floats(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    special = [
        MetricPoint("a", math.nan, 1, 10),
        MetricPoint("a", math.inf, 2, 11),
        MetricPoint("a", -math.inf, 3, 12),
    ]
    assert spool.append("run1", _points(3)) == 3
    assert spool.append("run1", special) == 6
    read = spool.pending()
    assert [p.seq for p in read] == [1, 2, 3, 4, 5, 6]
    assert [p.point for p in read[:3]] == _points(3)
    assert math.isnan(read[3].point.value)
    assert read[4].point.value == math.inf
    assert read[5].point.value == -math.inf
    assert {p.run_id for p in read} == {"run1"}


@settings(max_examples=200, deadline=None)
@given(
    keys=st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=8),
    values=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=1),
    step=st.integers(min_value=0, max_value=2**53),
)
def test_each_line_is_what_json_dumps_writes_and_reads_back_exactly(keys, values, step) -> None:
    """The hand-formatted lines (benchmark 9: json.dumps per point was 2/3 of an append)."""
    points = [MetricPoint(keys[i % len(keys)], v, step, 1_700_000_000_000 + i) for i, v in
              enumerate(values)]  # fmt: skip
    with tempfile.TemporaryDirectory() as directory:
        spool = Spool(directory)
        first = spool.append('run "7"\\', points)
        lines = spool.points_path.read_text(encoding="utf-8").splitlines()
        read = spool.pending()
    for offset, (line, point) in enumerate(zip(lines, points, strict=True)):
        value = point.value if math.isfinite(point.value) else repr(point.value)
        record = {"seq": first - len(points) + 1 + offset, "run": 'run "7"\\', "key": point.key,
                  "value": value, "step": step, "ts": point.timestamp_ms}  # fmt: skip
        assert line == json.dumps(record, separators=(",", ":"))
    for got, point in zip(read, points, strict=True):
        assert (got.point.key, got.point.step, got.run_id) == (point.key, step, 'run "7"\\')
        assert got.point.value == point.value or (math.isnan(got.point.value) and
                                                  math.isnan(point.value))  # fmt: skip


def test_torn_last_line_is_ignored_and_sequence_continues(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append("r", _points(2))
    with spool.points_path.open("a") as handle:
        handle.write('{"seq": 3, "run": "r", "key": "lo')  # the writer died mid-line
    reopened = Spool(tmp_path)
    assert [p.seq for p in reopened.pending()] == [1, 2]
    assert reopened.pending_count() == 2


def test_marker_survives_reopen_and_hides_delivered_points(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append("r", _points(5))
    spool.mark_delivered(3)
    spool.mark_delivered(2)  # never moves back
    reopened = Spool(tmp_path)
    assert reopened.delivered_seq() == 3
    assert [p.seq for p in reopened.pending()] == [4, 5]
    assert reopened.append("r", _points(1)) == 6


def test_drain_stores_every_point_once_and_twice_adds_nothing(tmp_path: Path, store: str) -> None:
    client = MlflowClient(store)
    run_id = client.create_run("0").info.run_id
    spool = Spool(tmp_path / "spool")
    spool.append(run_id, _points(2500))
    sink = MlflowSink(client, run_id)

    def write(run: str, points: Sequence[MetricPoint]) -> None:
        MlflowSink(client, run).write(points)

    first = drain(spool, write)
    second = drain(spool, write)
    assert (first.delivered, second.delivered) == (2500, 0)
    history = client.get_metric_history(run_id, "loss")
    assert sorted((m.step, m.value, m.timestamp) for m in history) == [
        (p.step, p.value, p.timestamp_ms) for p in _points(2500)
    ]
    assert sink.run_id == run_id


def _sender_to_a_dead_store(
    tmp_path: Path, store: str, monkeypatch: pytest.MonkeyPatch, dead_uri: str
) -> tuple[str, Spool, SpoolingSink, BackgroundSender]:
    """A run in ``store`` whose points go to ``dead_uri``, where nothing listens."""
    for name in HTTP_DEFAULTS:  # the sink sets them process-wide: restore after the test
        monkeypatch.delenv(name, raising=False)
    run_id = MlflowClient(store).create_run("0").info.run_id
    spool = Spool(tmp_path / "spool")
    sink = SpoolingSink(
        MlflowSink(MlflowClient(dead_uri), run_id), spool, backoff=0.05, max_backoff=0.2
    )
    return run_id, spool, sink, BackgroundSender(sink, linger_seconds=0.0)


def test_unreachable_store_spools_without_waiting_and_sync_delivers_later(
    tmp_path: Path, store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id, spool, sink, sender = _sender_to_a_dead_store(
        tmp_path, store, monkeypatch, f"http://user:hunter2@127.0.0.1:{free_port()}"
    )
    began = time.monotonic()
    for window in range(20):
        sender.submit(_points(100, start=window * 100))
    submitted_in = time.monotonic() - began
    assert sender.close(timeout=1.0)
    stats = sink.stats
    assert (stats.spooled, stats.waiting) == (2000, 2000), stats
    assert sender.stats.failed == 0
    assert sender.stats.dropped == 0
    assert submitted_in < 5.0, "submitting must never wait for a dead store"
    info = spool.run_info()
    assert info["run_id"] == run_id
    assert "hunter2" not in str(info)
    result = drain(spool, lambda run, pts: MlflowSink(MlflowClient(store), run).write(pts))
    assert result.delivered == 2000
    assert len(MlflowClient(store).get_metric_history(run_id, "loss")) == 2000


def test_the_senders_one_record_holds_what_the_spool_counted(
    tmp_path: Path, store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One record counts a delivery from submission to the store (issue 16): the sender's."""
    _, spool, sink, sender = _sender_to_a_dead_store(
        tmp_path, store, monkeypatch, f"http://127.0.0.1:{free_port()}"
    )
    sender.submit(_points(300))
    sender.close(timeout=1.0)

    stats = sender.stats
    # handed over = taken by the spool; none in the store, all 300 waiting there
    assert (stats.submitted, stats.delivered, stats.pending) == (300, 300, 0)
    assert (stats.spool, stats.spooled, stats.waiting) == (spool.directory, 300, 300)
    assert (stats.stored, stats.in_spool) == (0, 300)
    assert len(stats.outages) == 1
    assert stats.outages[0][1] is None  # the outage had not ended
    assert sink.stats.spooled == stats.spooled  # the spool's own record, the same count


def test_mask_uri_hides_passwords_and_bare_tokens() -> None:
    assert mask_uri("http://alice:s3cret@host:5000/p") == "http://alice:***@host:5000/p"
    assert mask_uri("https://tok3n@host") == "https://***@host"
    assert mask_uri("sqlite:///tmp/mlflow.db") == "sqlite:///tmp/mlflow.db"


def test_append_after_a_torn_line_starts_a_new_line(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append("r", _points(2))
    with spool.points_path.open("a") as handle:
        handle.write('{"seq": 3, "run": "r", "key": "lo')  # the writer died mid-line
    resumed = Spool(tmp_path)  # e.g. training resumed from a checkpoint
    assert resumed.append("r", _points(2, start=10)) == 4
    assert [(p.seq, p.point.step) for p in Spool(tmp_path).pending()] == [
        (1, 0),
        (2, 1),
        (3, 10),
        (4, 11),
    ]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("append"), st.integers(1, 7)),
            st.tuples(st.just("mark"), st.integers(0, 40)),
            st.tuples(st.just("pending"), st.integers(1, 9)),
        ),
        max_size=30,
    )
)
def test_pending_matches_a_full_scan_whatever_the_order_of_calls(
    calls: list[tuple[str, int]],
) -> None:
    # pending() skips the delivered prefix it has read before: it must see what a full,
    # fresh read sees after any interleaving of appends, marker moves and partial reads
    with tempfile.TemporaryDirectory() as directory:
        spool = Spool(directory)
        last = 0
        for call, number in calls:
            if call == "append":
                last = spool.append("r", _points(number))
            elif call == "mark":
                spool.mark_delivered(min(number, last))
            else:
                fresh = Spool(directory).pending()
                assert spool.pending(limit=number) == fresh[:number]
                assert spool.pending_count() == len(fresh)


def test_a_resent_request_stores_nothing_twice(tmp_path: Path, store: str) -> None:
    # the process died after the store took a request and before the marker moved: the
    # next drain sends that request again; identical points are one row in MLflow's SQL
    # stores (key, value, step and timestamp are kept from the spool)
    client = MlflowClient(store)
    run_id = client.create_run("0").info.run_id
    spool = Spool(tmp_path / "spool")
    points = [*_points(1500), MetricPoint("loss", math.nan, 5000, 1), MetricPoint("x", 2.0, 0, 1)]
    spool.append(run_id, points)

    class ProcessDiedError(Exception):
        pass

    def write_then_die(run: str, batch: Sequence[MetricPoint]) -> None:
        MlflowSink(client, run).write(batch)
        raise ProcessDiedError  # before mark_delivered

    with contextlib.suppress(ProcessDiedError):
        drain(spool, write_then_die)
    assert spool.delivered_seq() == 0
    resent = drain(spool, lambda run, batch: MlflowSink(client, run).write(batch))
    assert resent.delivered == len(points)  # the first 1,000 went twice
    history = client.get_metric_history(run_id, "loss")
    assert len(history) == 1501
    assert sorted((m.step, m.timestamp) for m in history if not math.isnan(m.value)) == [
        (p.step, p.timestamp_ms) for p in _points(1500)
    ]
    assert len(client.get_metric_history(run_id, "x")) == 1


def test_stores_written_in_process_gather_points_longer_than_servers(tmp_path: Path) -> None:
    local = f"sqlite:///{tmp_path / 'mlflow.db'}"
    server = f"http://127.0.0.1:{free_port()}"
    assert linger_seconds(local) == LOCAL_STORE_LINGER_SECONDS == 5.0
    assert linger_seconds(server) == REMOTE_STORE_LINGER_SECONDS == 1.0


def test_a_delivered_spool_is_emptied_and_numbering_goes_on(tmp_path):  # type: ignore[no-untyped-def]
    spool = Spool(tmp_path / "spool")
    points = [MetricPoint("k", float(s), s, s) for s in range(10)]
    last = spool.append("run", points)
    assert not spool.discard_delivered()  # nothing delivered yet: kept
    spool.mark_delivered(last)
    assert not spool.discard_delivered(above_bytes=10**9)  # small: kept
    assert spool.discard_delivered()
    assert spool.points_path.stat().st_size == 0
    again = Spool(tmp_path / "spool")  # another process later
    assert again.append("run", points[:2]) == last + 2
    assert [p.seq for p in again.pending()] == [last + 1, last + 2]


@pytest.fixture
def full_disk(tmp_path):  # type: ignore[no-untyped-def]
    """A real, tiny filesystem (tmpfs, 32 KiB) that fills up; skipped where one cannot mount."""
    import subprocess

    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32k", "tmpfs", str(mount)],
        capture_output=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_a_full_disk_keeps_exactly_the_points_it_counts(full_disk):  # type: ignore[no-untyped-def]
    """Issue 15 item 13: with the disk full, the spool held points counted as lost (530)."""
    spool = Spool(full_disk / "spool")
    kept = refused = 0
    for start in range(0, 20_000, 97):  # batches that end mid-line when the disk fills
        batch = [MetricPoint(f"key_{i % 7}", float(i), i, i) for i in range(start, start + 97)]
        try:
            spool.append("run", batch)
            kept += len(batch)
        except OSError:
            refused += len(batch)
    assert refused > 0, "the disk never filled"
    assert kept > 0
    assert spool.pending_count() == kept  # produced = kept + refused, and the spool agrees
    assert [p.point.step for p in spool.pending()] == sorted(p.point.step for p in spool.pending())


def test_probing_http_makes_no_retry_then_restores_the_users_settings(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import os

    from pat_skrl_mlflow import probing_http

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "99")
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    with probing_http(5):
        assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "0"
        assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "5"
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "99"
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ
