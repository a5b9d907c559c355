"""Regressions from the adversarial pass (issue 15): produced vs stored, on real stores.

Each test reproduces one way metrics were lost or a secret was printed, counts what the
agent produced against what the store holds, and fails on the code before the fix.
"""

from __future__ import annotations

import contextlib
import logging
import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from mlflow import MlflowClient

from pat_skrl_mlflow import BackgroundSender, MetricPoint, MlflowSink, instrument, mask_uri
from pat_skrl_mlflow.run_store._sink import SinkRejected, SinkUnavailable, one_line
from pat_skrl_mlflow.run_store._spooling_sink import durable_sink
from skrl_mlflow_support import (
    SKRL2,
    metric_histories,
    ppo_runner,
)

TIMESTEPS = 60
INTERVAL = 6  # 10 windows


def _runner(tmp_path):  # type: ignore[no-untyped-def]
    return ppo_runner(str(tmp_path / "runs"), num_envs=2, timesteps=TIMESTEPS)


def _track_every_step(agent, values_at):  # type: ignore[no-untyped-def]
    """Track ``values_at(timestep)`` (tag -> value) after every interaction."""
    original = agent.post_interaction

    def post_interaction(*, timestep: int, timesteps: int) -> None:
        for tag, value in values_at(timestep).items():
            agent.track_data(tag, value)
        original(timestep=timestep, timesteps=timesteps)

    agent.post_interaction = post_interaction


UNREDUCIBLE = {
    "int beyond float range": lambda: 10**400,
    "meta tensor": lambda: torch.empty(3, device="meta"),
    "sparse tensor": lambda: torch.eye(3).to_sparse(),
}


@pytest.mark.usefixtures("in_process_writes")
@pytest.mark.parametrize("kind", list(UNREDUCIBLE))
def test_one_unreducible_value_skips_only_itself(tmp_path, store, kind):
    """Item 1: the bad value is skipped and reported once; every window is stored."""
    runner = _runner(tmp_path)
    bad = UNREDUCIBLE[kind]

    def values_at(timestep: int) -> dict[str, object]:
        values: dict[str, object] = {"Probe / good": float(timestep)}
        if timestep == 3:  # once, in the first window
            values["Probe / bad"] = bad()
            values["Probe / good"] = bad()  # a good tag's window holds one bad value too
        return values

    _track_every_step(runner.agent, values_at)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with instrument(runner.agent, interval=INTERVAL, tracking_uri=store, log_config=False) as h:
            runner.run()
    summary = h.summary()
    histories = metric_histories(store, h.run_id)
    windows = TIMESTEPS // INTERVAL
    assert summary.windows == windows
    assert len(histories["Probe/good"]) == windows  # the first window's good values too
    first = dict(histories["Probe/good"])[INTERVAL]
    assert first == pytest.approx(sum(t for t in range(INTERVAL) if t != 3) / (INTERVAL - 1))
    assert len(histories["policy_loss"]) >= 1
    assert "Probe/bad" not in histories
    assert set(summary.skipped_tags) == {"Probe / bad", "Probe / good"}
    skipped = [w for w in caught if "cannot be reduced" in str(w.message)]
    assert len(skipped) == 2  # once per tag
    assert "skipped" in str(summary)


@pytest.mark.usefixtures("in_process_writes")
def test_ragged_nested_lists_are_flattened(tmp_path, store):
    """Item 13: the docs say nested lists are flattened; ragged ones were skipped."""
    runner = _runner(tmp_path)
    _track_every_step(runner.agent, lambda t: {"Probe / ragged": [[1.0, 2.0], [3.0, [float(t)]]]})
    with instrument(runner.agent, interval=INTERVAL, tracking_uri=store, log_config=False) as h:
        runner.run()
    histories = metric_histories(store, h.run_id)
    assert h.summary().skipped_tags == {}
    maxima = dict(histories["Probe/ragged/max"])
    assert maxima[INTERVAL] == 5.0  # the largest t of the first window
    assert len(maxima) == TIMESTEPS // INTERVAL


LONG = "Probe / " + "a" * 244  # its key is 250 characters: <key>/<stat> is not


@pytest.mark.usefixtures("in_process_writes")
def test_derived_names_are_valid_and_one_bad_name_never_takes_good_keys(tmp_path, store):
    """Item 2: `<key>/<stat>` over 250 characters was rejected and took good keys with it."""
    runner = _runner(tmp_path)
    twin = LONG[:-1] + "b"  # same first 249 characters: derived names must stay distinct
    _track_every_step(
        runner.agent,
        lambda t: {LONG: torch.arange(4.0) + t, twin: torch.arange(4.0) - t, "Probe / x": float(t)},
    )
    with instrument(
        runner.agent,
        interval=INTERVAL,
        tracking_uri=store,
        log_config=False,
        extra_reducers={"Probe*": ["std", "p90"]},
    ) as h:
        runner.run()
    summary = h.summary()
    histories = metric_histories(store, h.run_id)
    windows = TIMESTEPS // INTERVAL
    assert summary.points_rejected == 0, summary.rejections
    stored = sum(len(points) for points in histories.values())
    assert stored == summary.points_logged  # produced (accepted) vs stored
    long_keys = [k for k in histories if k.startswith("Probe/aaa")]
    assert len(long_keys) == 2 * 5  # mean, std, min, max, p90 of each of the two tags
    assert all(len(k) <= 250 for k in histories)
    assert {k.rsplit("/", 1)[1] for k in long_keys} == {"mean", "std", "min", "max", "p90"}
    assert all(len(histories[k]) == windows for k in long_keys)
    assert len(histories["Probe/x"]) == len(histories["Probe/x/std"]) == windows
    # the keys the shortcut used to drop (skrl 1.x's trainer does not time inference)
    for key in ("policy_loss", "inference_time_ms") if SKRL2 else ("policy_loss",):
        assert key in histories


# --- a real `mlflow server` behind a proxy that answers in its place ------------------


@pytest.fixture(scope="module")
def proxied(tmp_path_factory, empty_store):  # type: ignore[no-untyped-def]
    """One server for the module's tests and the fault proxy in front of it."""
    from fault_proxy import FaultProxy
    from mlflow_server import sqlite_server

    root = tmp_path_factory.mktemp("server")
    with sqlite_server(root, empty_store) as server, FaultProxy(server.port) as proxy:
        yield server, proxy


def _points(keys, steps, start=0):  # type: ignore[no-untyped-def]
    return [
        MetricPoint(k, float(s) + 0.5, s, 1_700_000_000_000 + s)
        for s in range(start, start + steps)
        for k in keys
    ]


def _stored(uri, run_id):  # type: ignore[no-untyped-def]
    client = MlflowClient(uri)
    return sorted(
        (key, m.step, m.timestamp, m.value)
        for key in client.get_run(run_id).data.metrics
        for m in client.get_metric_history(run_id, key)
    )


def _through_the_proxy(proxied, tmp_path, monkeypatch, during):  # type: ignore[no-untyped-def]
    """Points before, during and after ``during`` (a proxy fault): returns (sender, sink, run)."""
    server, proxy = proxied
    proxy.set_mode("pass")
    monkeypatch.setenv("PAT_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    client = MlflowClient(proxy.url)
    run_id = client.create_run("0").info.run_id
    sink = durable_sink(client, run_id, tracking_uri=proxy.url)
    sender = BackgroundSender(sink, linger_seconds=0.0)
    keys = ["policy_loss", "value_loss", "lr"]
    sender.submit(_points(keys, 10))
    assert sender.flush(30)
    with during(proxy):
        sender.submit(_points(keys, 10, start=10))
        assert sender.flush(30)
        assert sink.stats.spooled > 0  # the store did not take them: they wait
    sender.submit(_points(keys, 10, start=20))
    assert sender.close(timeout=60)
    produced = sorted((p.key, p.step, p.timestamp_ms, p.value) for p in _points(keys, 30))
    return sender, sink, run_id, server.url, produced


@pytest.mark.server
@pytest.mark.no_skrl  # the store's answers: skrl only supplies the metrics
@pytest.mark.parametrize(
    ("status", "html"), [(401, False), (403, False), (403, True), (404, False), (429, False)]
)
def test_auth_throttling_and_missing_run_answers_spool_not_reject(  # noqa: PLR0917
    proxied, tmp_path, monkeypatch, caplog, status, html
):  # type: ignore[no-untyped-def]
    """Item 4: 401/403/404/429 refuse the request, not its points: nothing is lost."""

    @contextlib.contextmanager
    def refusing(proxy):  # type: ignore[no-untyped-def]
        proxy.refuse_status, proxy.refuse_html = status, html
        with proxy.fault("refuse"):
            yield

    caplog.set_level(logging.WARNING, logger="pat_skrl_mlflow")
    sender, sink, run_id, url, produced = _through_the_proxy(
        proxied, tmp_path, monkeypatch, refusing
    )
    assert sender.stats.rejected == 0
    assert sender.stats.failed == 0
    assert sink.stats.waiting == 0
    assert _stored(url, run_id) == produced
    warnings_ = [r.getMessage() for r in caplog.records if "not taking" in r.getMessage()]
    assert len(warnings_) == 1
    assert f"HTTP {status}" in warnings_[0]


@pytest.mark.server
@pytest.mark.no_skrl
@pytest.mark.parametrize("status", [401, 403])
def test_the_end_does_not_wait_out_refused_credentials(proxied, tmp_path, monkeypatch, status):  # type: ignore[no-untyped-def]
    """An expired token kept `pat train` at its end for the whole flush timeout (60 s),
    retrying a request that cannot succeed: now one last try, then the spool keeps them."""
    server, proxy = proxied
    proxy.set_mode("pass")
    monkeypatch.setenv("PAT_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    run_id = MlflowClient(proxy.url).create_run("0").info.run_id
    sink = durable_sink(MlflowClient(proxy.url), run_id, tracking_uri=proxy.url)
    sender = BackgroundSender(sink, linger_seconds=0.0)
    proxy.refuse_status, proxy.refuse_html = status, False
    produced = _points(["policy_loss", "value_loss"], 20)
    with proxy.fault("refuse"):
        sender.submit(produced)
        assert sender.flush(30)
        tries_before = proxy.log_batches["refuse"]
        sender.close(timeout=60)
        tries_at_close = proxy.log_batches["refuse"] - tries_before
    # without the fix the drainer retried for 60 s (backoff 0.5 s doubling: 7 tries)
    assert 1 <= tries_at_close <= 2  # the last try, and one that may have been under way
    assert sink.stats.waiting == len(produced)  # all of them wait for `pat sync`
    assert _stored(server.url, run_id) == []


@pytest.mark.server
@pytest.mark.no_skrl
@pytest.mark.parametrize("body", [b"", b"{}"])
def test_a_200_answer_that_stored_nothing_is_not_delivered(proxied, tmp_path, monkeypatch, body):  # type: ignore[no-untyped-def]
    """Item 5: a gateway answering 200 without forwarding lost every point silently."""

    @contextlib.contextmanager
    def answering_for_the_server(proxy):  # type: ignore[no-untyped-def]
        proxy.empty_body = body
        with proxy.fault("empty_ok"):
            yield

    sender, sink, run_id, url, produced = _through_the_proxy(
        proxied, tmp_path, monkeypatch, answering_for_the_server
    )
    assert sender.stats.rejected == 0
    assert sender.stats.failed == 0
    assert sink.stats.waiting == 0
    assert _stored(url, run_id) == produced


@pytest.mark.server
@pytest.mark.no_skrl
def test_a_200_that_stored_nothing_is_caught_when_the_value_did_not_change(
    proxied, tmp_path, monkeypatch
):  # type: ignore[no-untyped-def]
    """Issue 19: the writer process reads back against what it stored for the run before.

    A constant value's latest entry in the run says nothing about this request; a read-back
    that forgot the earlier requests (a new sink per request) counted the lost points stored.
    """
    server, proxy = proxied
    proxy.set_mode("pass")
    monkeypatch.setenv("PAT_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    client = MlflowClient(proxy.url)
    run_id = client.create_run("0").info.run_id
    sink = durable_sink(client, run_id, tracking_uri=proxy.url)

    def constant(start):  # type: ignore[no-untyped-def]
        return [MetricPoint("lr", 1e-3, s, 1_700_000_000_000 + s) for s in range(start, start + 10)]

    sink.write(constant(0))
    proxy.empty_body = b"{}"
    with proxy.fault("empty_ok"):
        sink.write(constant(10))  # answered 200, stored nothing
    assert sink.stats.spooled == 10  # type: ignore[attr-defined]
    assert sink.close(60) == 0  # type: ignore[attr-defined]
    history = MlflowClient(server.url).get_metric_history(run_id, "lr")
    assert sorted(m.step for m in history) == list(range(20))


@pytest.mark.no_skrl
def test_a_refusal_naming_the_run_is_not_split_point_by_point(store, tmp_path):  # type: ignore[no-untyped-def]
    """Item 2: a deleted run refuses every request the same way: spooled, not rejected."""
    client = MlflowClient(store)
    run_id = client.create_run("0").info.run_id
    client.delete_run(run_id)
    sink = MlflowSink(client, run_id)
    with pytest.raises(SinkUnavailable, match="active"):
        sink.write(_points(["a", "b"], 500))
    live = MlflowSink(client, client.create_run("0").info.run_id)
    with pytest.raises(SinkRejected):  # a bad name in a live run is the point's fault
        live.write([*_points(["a"], 3), MetricPoint("bad (name)", 1.0, 0, 0)])


# --- secrets: masked before any truncation, whatever the password holds ----------------

password_text = st.text(  # anything a URI can hold unencoded but its delimiters and spaces
    alphabet=st.characters(blacklist_characters="/?#", blacklist_categories=("Cs", "Cc", "Z")),
    min_size=6,
    max_size=400,
)


@settings(max_examples=200, deadline=None)
@given(password=password_text, scheme=st.sampled_from(["http", "https", "postgresql"]))
def test_a_uri_password_never_survives_masking(password, scheme):  # type: ignore[no-untyped-def]
    """Item 12: masking stopped at the first "@" and ran after a 300-character cut."""
    uri = f"{scheme}://alice:{password}@db.example:5432/path?x=1"
    masked = mask_uri(uri)
    assert masked == f"{scheme}://alice:***@db.example:5432/path?x=1"
    message = f"API request to {uri}/api/2.0/mlflow/runs/log-batch failed: " + "x" * 300
    line = one_line(Exception(message))
    assert line.startswith(f"API request to {scheme}://alice:***@db.example:5432/path?x=1/api")
    assert len(line) <= 300


@pytest.mark.parametrize(
    ("uri", "masked"),
    [
        ("https://h/x?sig=abc&y=1", "https://h/x?sig=***&y=1"),
        ("https://h/x?access_token=abc", "https://h/x?access_token=***"),
        ("http://token-only@h:5000", "http://***@h:5000"),
        ("sqlite:////home/a@b/mlflow.db", "sqlite:////home/a@b/mlflow.db"),
        ("databricks", "databricks"),
    ],
)
def test_token_like_query_parameters_and_userinfo_are_masked(uri, masked):  # type: ignore[no-untyped-def]
    assert mask_uri(uri) == masked


def test_pats_log_records_are_masked(caplog, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-PLANTED-99")
    caplog.set_level(logging.WARNING, logger="pat_skrl_mlflow")
    logging.getLogger("pat_skrl_mlflow").warning(
        "pat: failed %s with %r", "http://u:pw-PLANTED@h", "Bearer tok-PLANTED-99"
    )
    (record,) = caplog.records
    assert "PLANTED" not in record.getMessage()
    assert "http://u:***@h" in record.getMessage()


def test_left_running_tells_a_dead_process_of_this_host_only():  # type: ignore[no-untyped-def]
    """Item 9: a run whose training process is gone is told from one still training."""
    import socket
    import subprocess
    import sys

    from pat_skrl_mlflow import left_running
    from pat_skrl_mlflow.run_store._liveness import process_tags

    mine = process_tags()
    assert left_running("RUNNING", mine) is None  # this very process
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead = {**mine, "pat.pid": done.stdout.strip()}
    assert (
        left_running("RUNNING", dead)
        == f"process {dead['pat.pid']} on {socket.gethostname()} is gone"
    )
    assert left_running("FINISHED", dead) is None
    assert left_running("RUNNING", {**dead, "pat.host": "another-node"}) is None
    rebooted = {**mine, "pat.boot_id": "0" * 36}
    assert "rebooted" in (left_running("RUNNING", rebooted) or "")
    assert left_running("RUNNING", {}) is None  # not a run pat wrote
