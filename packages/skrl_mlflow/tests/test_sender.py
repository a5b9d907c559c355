"""The background sender against real MLflow stores: isolation, back-pressure, outages."""

from __future__ import annotations

import threading

import pytest
from mlflow import MlflowClient

from pat_skrl_mlflow import BackgroundSender, MetricPoint, MlflowSink

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


def test_run_level_rejection_is_not_bisected_point_by_point(run):
    client, run_id = run
    client.delete_run(run_id)  # every request is now refused with the same reason
    sender = BackgroundSender(MlflowSink(client, run_id))
    sender.submit(_points([f"k{i}" for i in range(30)], 100))  # 3000 points
    sender.close(timeout=120)
    stats = sender.stats
    assert stats.rejected == 3000
    assert stats.delivered == 0
    assert stats.requests < 100  # not ~6000 single-point requests


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
    sender = BackgroundSender(MlflowSink(client, "0" * 32), max_retries=1, retry_backoff=0.01)
    sender.submit(_points(["a", "b"], 5))
    sender.close(timeout=60)
    stats = sender.stats
    assert stats.failed == 10
    assert stats.delivered == stats.rejected == 0
    assert stats.last_error
    sender.submit(_points(["a"], 1))  # after close: counted, not raised
    assert sender.stats.dropped == 1
