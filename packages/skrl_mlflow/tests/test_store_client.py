"""pat's ProcessClient: a whole run created, described, written and ended by the writer child."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from typing import TYPE_CHECKING

import pytest
from mlflow import MlflowClient

from pat_skrl_mlflow import MetricPoint, RunTarget, log_agent_config
from pat_skrl_mlflow.run_store._run import set_tags
from pat_skrl_mlflow.run_store._spooling_sink import durable_sink
from pat_skrl_mlflow.run_store._writer_client import ProcessClient, StoreRequestError
from pat_skrl_mlflow.run_store._writer_process import ProcessSink

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.no_skrl  # store-side only: tests_skrl1 leaves it out


@pytest.fixture
def client(store: str) -> Iterator[ProcessClient]:
    writer = ProcessClient(store)
    yield writer
    writer.close()


def test_a_run_made_through_the_child_matches_what_mlflow_stores(
    client: ProcessClient, store: str
) -> None:
    assert client.check() is None
    run_id = client.start_run(experiment_name="cartpole", run_name="first", tags={"team": "rl"})
    target = RunTarget(run_id, store, owned=True, client=client)
    set_tags(run_id, {"pat.task": "CartPole-v1"}, client)
    logged = log_agent_config(target, {"agent": {"rollouts": 32, "lr": 3e-4}, "seed": 42})
    sink = durable_sink(client, run_id, tracking_uri=store)
    sink.write([MetricPoint("loss", float(step), step, 1_700_000_000_000) for step in range(5)])
    sink.close(0)  # type: ignore[attr-defined]
    assert target.end("FINISHED")

    assert logged == 3
    stored = MlflowClient(store).get_run(run_id)
    assert stored.info.run_name == "first"
    assert stored.info.status == "FINISHED"
    assert stored.data.params == {"agent/rollouts": "32", "agent/lr": "0.0003", "seed": "42"}
    assert stored.data.tags["team"] == "rl"
    assert stored.data.tags["pat.task"] == "CartPole-v1"
    assert stored.data.tags["mlflow.source.name"] == sys.argv[0]  # this process, not the child
    assert MlflowClient(store).get_experiment(stored.info.experiment_id).name == "cartpole"
    assert {a.path for a in MlflowClient(store).list_artifacts(run_id, "pat")} == {
        "pat/agent_config.yaml"
    }
    view = client.get_run(run_id)  # the read-back: plain views of MLflow's entities
    assert view.info.status == "FINISHED"
    assert view.data.metrics == {"loss": 4.0}
    assert client.get_experiment(view.info.experiment_id).name == "cartpole"
    history = client.get_metric_history(run_id, "loss")
    assert sorted((m.step, m.value) for m in history) == [(s, float(s)) for s in range(5)]


def test_the_run_s_sink_shares_the_client_s_child_and_leaves_it_open(
    client: ProcessClient, store: str
) -> None:
    run_id = client.start_run()
    sink = durable_sink(client, run_id, tracking_uri=store)
    inner = sink.inner  # type: ignore[attr-defined]
    assert isinstance(inner, ProcessSink)
    assert inner.process is client.process
    sink.close(0)  # type: ignore[attr-defined]
    assert client.process.child is not None
    assert client.process.child.poll() is None  # still serving the run's end
    client.set_terminated(run_id, "KILLED")
    assert MlflowClient(store).get_run(run_id).info.status == "KILLED"


def test_a_request_the_store_refuses_raises_with_mlflow_s_message_and_code(
    client: ProcessClient,
) -> None:
    with pytest.raises(StoreRequestError, match=r"0{32}") as raised:
        client.get_run("0" * 32)
    assert raised.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert client.check() is None  # the child serves on


def test_an_unusable_store_is_reported_by_check_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    broken = ProcessClient(f"sqlite:///{tmp_path / 'file' / 'mlflow.db'}")  # under a file
    try:
        reason = broken.check()
        assert reason is not None
        assert "\n" not in reason
        assert str(tmp_path / "file") in reason  # MLflow's own reason, from the child
        with pytest.raises(StoreRequestError):
            broken.start_run()
    finally:
        broken.close()


def test_a_closed_client_fails_its_requests(store: str) -> None:
    writer = ProcessClient(store)
    writer.close()
    with pytest.raises(StoreRequestError, match="closed"):
        writer.start_run()


def test_a_run_resumed_from_mlflow_run_id_keeps_its_id(
    client: ProcessClient, store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    existing = MlflowClient(store).create_run("0").info.run_id
    monkeypatch.setenv("MLFLOW_RUN_ID", existing)  # read by the child it starts
    resumed = ProcessClient(store)
    try:
        assert resumed.start_run(experiment_name="ignored when resuming") == existing
    finally:
        resumed.close()


def test_the_training_process_never_imports_mlflow(
    store: str, tmp_path: Path, child_env: dict[str, str]
) -> None:
    script = tmp_path / "train.py"
    script.write_text(
        textwrap.dedent(f"""
        import sys
        from pat_skrl_mlflow import MetricPoint, RunTarget, log_agent_config
        from pat_skrl_mlflow.run_store._spooling_sink import durable_sink
        from pat_skrl_mlflow.run_store._writer_client import ProcessClient
        client = ProcessClient({store!r})
        assert client.check() is None
        target = RunTarget(client.start_run(), {store!r}, owned=True, client=client)
        log_agent_config(target, {{"seed": 1}})
        sink = durable_sink(client, target.run_id, tracking_uri={store!r})
        sink.write([MetricPoint("loss", 1.0, 0, 1)])
        sink.close(0)
        target.end("FINISHED")
        print(client.get_run(target.run_id).data.metrics)
        client.close()
        print("mlflow" in sys.modules)
        """)
    )
    done = subprocess.run(
        [sys.executable, str(script)], env=child_env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["{'loss': 1.0}", "False"]
    assert os.path.getsize(store.removeprefix("sqlite:///")) > 0


def test_a_store_that_is_not_there_is_created_only_by_the_check(tmp_path: Path) -> None:
    database = tmp_path / "new" / "mlflow.db"
    idle = ProcessClient(f"sqlite:///{database}", open_store=False)
    idle.close()  # waits for the child: it imported MLflow and exits
    assert not database.exists()

    checked = ProcessClient(f"sqlite:///{database}", open_store=False)
    try:
        checked.begin_check()
        deadline = time.monotonic() + 60
        while not checked.check_answered() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert checked.check_answered()
        assert checked.check() is None
        assert database.is_file()
        assert checked.start_run()  # the client serves requests again once the check is read
    finally:
        checked.close()


def test_a_pending_check_holds_the_child_until_it_is_read(client: ProcessClient) -> None:
    client.begin_check()
    served: list[str] = []
    other = threading.Thread(target=lambda: served.append(client.start_run()))
    other.start()
    other.join(timeout=1.0)
    assert other.is_alive()  # waits for the check's answer to be read
    assert not served
    assert client.check() is None
    other.join(timeout=60)
    assert len(served) == 1


def test_every_run_client_takes_the_same_plain_params_and_tags(
    client: ProcessClient, store: str
) -> None:
    """MLflow's own client (wrapped by RunTarget), pat's writer child: one RunClient protocol."""
    from pat_skrl_mlflow import MlflowRunClient, log_params

    assert client.check() is None
    mlflow_run = MlflowClient(store).create_run("0").info.run_id
    child_run = client.start_run(run_name="child")
    targets = [
        RunTarget(mlflow_run, store, owned=True, client=MlflowClient(store)),
        RunTarget(child_run, store, owned=True, client=client),
    ]
    assert isinstance(targets[0].client, MlflowRunClient)  # MlflowClient given: wrapped
    assert targets[1].client is client
    for target in targets:
        log_params(target, {"num_envs": 4, "task": "CartPole-v1"})
        set_tags(target.run_id, {"pat.task": "CartPole-v1"}, target.client)
        assert target.end("FINISHED")

    for run_id in (mlflow_run, child_run):
        stored = MlflowClient(store).get_run(run_id)
        assert stored.data.params == {"num_envs": "4", "task": "CartPole-v1"}
        assert stored.data.tags["pat.task"] == "CartPole-v1"
        assert stored.info.status == "FINISHED"
