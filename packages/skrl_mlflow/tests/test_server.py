"""Against a real ``mlflow server`` on 127.0.0.1 (HTTP store): training and isolation."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from mlflow_server import sqlite_server
from pat_skrl_mlflow import BackgroundSender, MetricPoint, MlflowSink, instrument
from skrl_mlflow_support import (
    TensorBoardRecorder,
    make_runner,
    metric_histories,
    runner_cfg,
    same_value,
    vector_env,
)

pytestmark = [pytest.mark.server, pytest.mark.no_skrl]  # delivery over HTTP: store-side


@pytest.fixture(scope="module")
def server(tmp_path_factory, empty_store):
    """A real MLflow tracking server with a sqlite backend, always stopped afterwards."""
    with sqlite_server(tmp_path_factory.mktemp("server"), empty_store) as srv:
        yield srv.url


def test_training_logs_over_http(tmp_path, server):
    env = vector_env("Pendulum-v1", num_envs=4, max_episode_steps=16)
    cfg = runner_cfg("PPO", directory=str(tmp_path / "runs"), timesteps=64, write_interval=16)
    runner = make_runner(env, cfg)
    recorder = TensorBoardRecorder(runner.agent)
    with instrument(runner.agent, tracking_uri=server, experiment_name="pat-http") as handle:
        runner.run()
    histories = metric_histories(server, handle.run_id)
    assert {handle.tag_table[tag] for tag in recorder.tags} == set(histories)
    for tag in recorder.tags:
        logged = dict(histories[handle.tag_table[tag]])
        for step, window in recorder.reduced.items():
            if tag in window:
                assert same_value(logged[step], window[tag]), (tag, step)
    assert MlflowClient(tracking_uri=server).get_run(handle.run_id).info.status == "FINISHED"


def test_rejected_metric_is_isolated_over_http(server):
    client = MlflowClient(tracking_uri=server)
    run_id = client.create_run("0").info.run_id
    points = [MetricPoint(f"k{i}", float(s), s, 0) for s in range(30) for i in range(50)]
    points.insert(700, MetricPoint("bad (name)", 1.0, 0, 0))
    sender = BackgroundSender(MlflowSink(client, run_id))
    sender.submit(points)
    assert sender.close(timeout=120)
    assert (sender.stats.delivered, sender.stats.rejected) == (1500, 1)
    assert set(client.get_run(run_id).data.metrics) == {f"k{i}" for i in range(50)}
