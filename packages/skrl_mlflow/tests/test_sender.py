"""The background sender against real MLflow stores: isolation, back-pressure, outages."""

from __future__ import annotations

import threading

import pytest
from mlflow import MlflowClient

from pat_skrl_mlflow import BackgroundSender, MetricPoint, MlflowSink
from pat_skrl_mlflow.run_store._spool import Spool
from pat_skrl_mlflow.run_store._spooling_sink import SpoolingSink, drain

pytestmark = pytest.mark.no_skrl  # store-side only: tests_skrl1 leaves it out

BAD_KEYS = ("Reward / Total reward (mean)", "loss(x)", "a//b")


def _points(keys, steps, start=0):
    return [
        MetricPoint(k, float(s), s, 1_700_000_000_000 + s)
        for s in range(start, start + steps)
        for k in keys
    ]


def _stored(client, run_id):
    run = client.get_run(run_id)
    return {
        k: sorted(m.step for m in client.get_metric_history(run_id, k)) for k in run.data.metrics
    }


@pytest.fixture
def run(store):
    client = MlflowClient(tracking_uri=store)
    run_id = client.create_run("0").info.run_id
    return client, run_id


def test_one_rejected_metric_never_takes_others(run):
    client, run_id = run
    good = [f"group/key_{i}" for i in range(25)]
    points = _points(good, 100)  # 2500 points: three requests of <= 1000
    for i, key in enumerate(BAD_KEYS):  # one bad point in each request
        points.insert(500 + 1000 * i, MetricPoint(key, 1.0, 7, 0))
    sender = BackgroundSender(MlflowSink(client, run_id))
    sender.submit(points)
    assert sender.close(timeout=120)
    stats = sender.stats
    assert stats.delivered == 2500
    assert stats.rejected == 3
    assert set(stats.rejections) == set(BAD_KEYS)
    assert all("Invalid" in reason or "invalid" in reason for reason in stats.rejections.values())
    stored = _stored(client, run_id)
    assert set(stored) == set(good)
    assert all(steps == list(range(100)) for steps in stored.values())


def test_run_level_refusal_is_not_bisected_point_by_point(run):
    client, run_id = run
    client.delete_run(run_id)  # every request is now refused, naming the run
    sender = BackgroundSender(MlflowSink(client, run_id))
    sender.submit(_points([f"k{i}" for i in range(30)], 100))  # 3000 points
    sender.close(timeout=120)
    stats = sender.stats
    # not the points' fault: not rejected (a spooling sink keeps them for `pat sync`)
    assert (stats.rejected, stats.failed, stats.delivered) == (0, 3000, 0)
    assert stats.requests < 100  # not ~6000 single-point requests
    assert "active" in (stats.last_error or "")


class GatedSink(MlflowSink):
    """A real MLflow sink that waits for ``gate`` before each write: a slow store."""

    def __init__(self, client, run_id):
        super().__init__(client, run_id)
        self.gate = threading.Event()
        self.entered = threading.Event()

    def write(self, points):
        self.entered.set()
        self.gate.wait(timeout=60)
        super().write(points)


def test_full_queue_drops_the_oldest_points(run):
    client, run_id = run
    sink = GatedSink(client, run_id)
    sender = BackgroundSender(sink, max_queue_points=100, block_seconds=0.01)
    sender.submit(_points(["k"], 50, start=0))  # taken by the sender, stuck in the store
    assert sink.entered.wait(timeout=30)
    for start in (50, 100, 150, 200):  # 200 more points, room for 100
        sender.submit(_points(["k"], 50, start=start))
    assert sender.stats.dropped == 100
    sink.gate.set()
    assert sender.close(timeout=60)
    stats = sender.stats
    assert (stats.submitted, stats.delivered, stats.dropped) == (250, 150, 100)
    # the first (in flight) and the newest points were kept
    assert _stored(client, run_id)["k"] == [*range(50), *range(150, 250)]


def test_unreachable_store_counts_failures_and_never_raises(monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    client = MlflowClient(tracking_uri="http://127.0.0.1:9")  # discard port: nothing listens
    sender = BackgroundSender(MlflowSink(client, "0" * 32))
    sender.submit(_points(["a", "b"], 5))
    sender.close(timeout=60)
    stats = sender.stats
    assert stats.requests == 1  # no retries of its own: the spooling sink is pat's retry
    assert stats.failed == 10
    assert stats.delivered == stats.rejected == 0
    assert stats.last_error
    sender.submit(_points(["a"], 1))  # after close: counted, not raised
    assert sender.stats.dropped == 1


def test_a_store_slower_than_training_loses_nothing_at_close(run, tmp_path):
    # the flush times out with points queued and one request in flight: they go to the
    # spool (counted there, not as failed) and `pat sync` delivers them; the request in
    # flight may land too, which stores nothing twice
    client, run_id = run
    slow = GatedSink(client, run_id)
    sink = SpoolingSink(slow, Spool(tmp_path / "pat_spool"))
    sender = BackgroundSender(sink, linger_seconds=0.0)
    points = _points([f"k{i}" for i in range(10)], 300)  # 3,000 points, 3 requests
    sender.submit(points)
    assert slow.entered.wait(timeout=30)
    assert not sender.close(timeout=0.5)
    stats, spooled = sender.stats, sink.stats
    assert (stats.failed, stats.dropped, stats.pending) == (0, 0, 0)
    assert spooled.waiting == spooled.spooled == 3000  # the one in flight is kept too
    assert sink.reachable  # slow, not down: the run can end normally
    slow.gate.set()  # the request in flight lands now
    drained = drain(sink.spool, lambda run, batch: MlflowSink(client, run).write(batch))
    assert drained.delivered == 3000
    stored = _stored(client, run_id)
    assert stored == {f"k{i}": list(range(300)) for i in range(10)}  # each point once


def test_points_beyond_the_queue_limit_go_to_the_spool_and_arrive(run, tmp_path):
    client, run_id = run
    slow = GatedSink(client, run_id)
    sink = SpoolingSink(slow, Spool(tmp_path / "pat_spool"), backoff=0.05)
    sender = BackgroundSender(sink, max_queue_points=100, block_seconds=0.01)
    sender.submit(_points(["k"], 50, start=0))  # taken by the sender, stuck in the store
    assert slow.entered.wait(timeout=30)
    for start in range(50, 1050, 50):  # 1,000 more points, room for 100
        sender.submit(_points(["k"], 50, start=start))
    assert sink.stats.spooled >= 900
    slow.gate.set()
    assert sender.close(timeout=60)
    stats = sender.stats
    assert (stats.submitted, stats.dropped, stats.failed, stats.pending) == (1050, 0, 0, 0)
    assert sink.stats.waiting == 0
    assert _stored(client, run_id)["k"] == list(range(1050))  # every point, once
