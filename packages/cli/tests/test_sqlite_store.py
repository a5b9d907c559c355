"""The sqlite fast path (no MLflow import) reads exactly what MLflow's client reads.

Every store here is a real sqlite store written by MLflow's client; each case is read both
ways and compared: the run found, its latest values, the summaries and every point, with
NaN and ±inf values, deleted runs and experiments.
"""

from __future__ import annotations

import json
import math
import sqlite3
from typing import TYPE_CHECKING

import numpy as np
import pytest
import typer

from pat_cli._mlflow_store import RunInfo, find_run, open_run
from pat_skrl_mlflow import (
    SqliteStore,
    read_histories,
    read_histories_per_key,
    summarize_histories,
    summarize_run,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from .conftest import Store

NAN_SAFE = "<nan>"


def _comparable(run: RunInfo) -> dict[str, object]:
    latest = {k: NAN_SAFE if math.isnan(v) else v for k, v in run.latest.items()}
    return {**run.__dict__, "latest": latest}


def _client(store: Store) -> MlflowClient:
    from mlflow import MlflowClient

    return MlflowClient(store.uri)


def _both_find(store: Store, run_id: str | None, experiment: str | None) -> RunInfo:
    """The run found by the fast path, after checking MLflow's client finds the same."""
    fast = SqliteStore.open(store.uri)
    assert fast is not None
    found = fast.find_run(run_id, experiment)
    assert found is not None
    expected = find_run(_client(store), store.uri, run_id, experiment)
    assert _comparable(found) == _comparable(expected)
    return found


def _delete_experiment_only(store: Store, name: str) -> None:
    # As MLflow versions that left an experiment's runs active when deleting it.
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE experiments SET lifecycle_stage = 'deleted' WHERE name = ?", (name,))


def _special_series() -> dict[str, list[tuple[int, float]]]:
    return {
        "mixed": [(0, 1.5), (5, math.nan), (10, math.inf), (15, -math.inf), (20, -4.0)],
        "only_nan": [(0, math.nan), (3, math.nan)],
        "ends_inf": [(0, 2.0), (1, math.inf)],
        "ends_nan": [(0, 2.0), (1, math.nan)],
        "plain": [(i * 7, float(i) ** 1.5) for i in range(50)],
    }


def test_a_run_by_id_has_the_same_latest_values_nan_and_inf_included(store):
    run_id = store.log_run(_special_series(), run_name="special")

    run = _both_find(store, run_id, None)

    assert run.run_name == "special"
    assert math.isnan(run.latest["ends_nan"])
    assert run.latest["ends_inf"] == np.finfo(np.float64).max  # MLflow's stored +inf


def test_the_default_run_skips_deleted_runs_and_deleted_experiments(store):
    client = _client(store)
    store.log_run({"x": [(0, 1.0)]}, experiment="kept", run_name="oldest", start_time=1_000)
    wanted = store.log_run({"x": [(0, 2.0)]}, experiment="kept", start_time=2_000)
    deleted_run = store.log_run({"x": [(0, 3.0)]}, experiment="kept", start_time=3_000)
    client.delete_run(deleted_run)
    store.log_run({"x": [(0, 4.0)]}, experiment="gone", start_time=4_000)
    _delete_experiment_only(store, "gone")  # its runs stay active

    assert _both_find(store, None, None).run_id == wanted


def test_a_named_experiment_is_found_even_when_deleted_and_ties_break_on_run_id(store):
    client = _client(store)
    first = store.log_run({"x": [(0, 1.0)]}, experiment="cartpole", start_time=5_000)
    second = store.log_run({"x": [(0, 1.0)]}, experiment="cartpole", start_time=5_000)
    store.log_run({"y": [(0, 1.0)]}, experiment="other", start_time=9_000)

    assert _both_find(store, None, "cartpole").run_id == min(first, second)

    _delete_experiment_only(store, "cartpole")
    assert _both_find(store, None, "cartpole").run_id == min(first, second)

    # MLflow's delete_experiment deletes the runs too: no run left, MLflow reports it.
    client.delete_experiment(client.get_experiment_by_name("other").experiment_id)
    fast = SqliteStore.open(store.uri)
    assert fast is not None
    assert fast.find_run(None, "other") is None


def test_the_experiment_comes_from_the_environment_like_mlflows(store, monkeypatch):
    wanted = store.log_run({"x": [(0, 1.0)]}, experiment="a", start_time=1_000)
    store.log_run({"x": [(0, 1.0)]}, experiment="b", start_time=2_000)
    experiment_id = _client(store).get_experiment_by_name("a").experiment_id

    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "a")
    assert _both_find(store, None, None).run_id == wanted
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", experiment_id)
    assert _both_find(store, None, None).run_id == wanted


def test_a_run_name_only_in_the_run_name_tag_is_found(store):
    run_id = store.log_run({"x": [(0, 1.0)]}, run_name="tagged")
    with sqlite3.connect(store.path) as db:  # as runs logged by older MLflow versions
        db.execute("UPDATE runs SET name = NULL WHERE run_uuid = ?", (run_id,))

    assert _both_find(store, run_id, None).run_name == "tagged"


@pytest.mark.parametrize(
    ("run_id", "experiment"),
    [("0123456789abcdef", None), (None, "no-such-experiment"), (None, None)],
)
def test_what_the_fast_path_cannot_find_is_left_to_mlflow(store, run_id, experiment):
    """Not found (or no runs at all): None, so MLflow's client words the error as before."""
    fast = SqliteStore.open(store.uri)
    assert fast is not None

    assert fast.find_run(run_id, experiment) is None


def test_a_store_without_the_expected_columns_is_not_read_directly(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE metrics (key TEXT, value REAL)")
    not_sqlite = tmp_path / "text.db"
    not_sqlite.write_text("not a database")

    assert SqliteStore.open(f"sqlite:///{path}") is None
    assert SqliteStore.open(f"sqlite:///{not_sqlite}") is None
    assert SqliteStore.open("http://127.0.0.1:5000") is None


def test_workspaces_leave_the_store_to_mlflow(store, monkeypatch):
    monkeypatch.setenv("MLFLOW_ENABLE_WORKSPACES", "true")

    assert SqliteStore.open(store.uri) is None


def test_summaries_and_points_equal_mlflows_sql_and_per_key_reads(store):
    rng = np.random.default_rng(11)
    series = _special_series()
    for index in range(8):
        count = int(rng.integers(1, 400))
        steps = np.sort(rng.choice(np.arange(20_000), size=count, replace=False))
        values = rng.normal(scale=10.0 ** rng.integers(-3, 6), size=count)
        values[rng.random(count) < 0.05] = np.nan
        values[rng.random(count) < 0.02] = np.inf
        values[rng.random(count) < 0.02] = -np.inf
        series[f"group{index % 3}/key_{index}"] = list(
            zip(steps.tolist(), values.tolist(), strict=True)
        )
    run_id = store.log_run(series)
    client = _client(store)
    fast = SqliteStore.open(store.uri)
    assert fast is not None
    latest = client.get_run(run_id).data.metrics
    keys = sorted(series)

    from_sqlite, method = summarize_run(fast, run_id, keys, latest)
    from_sqlalchemy, _ = summarize_run(client, run_id, keys, latest)
    per_key = read_histories_per_key(client, run_id, keys)
    from_memory = summarize_histories([per_key[k] for k in keys])

    assert method == "sql"
    assert [s.key for s in from_sqlite] == keys
    for a, b, c in zip(from_sqlite, from_sqlalchemy, from_memory, strict=True):
        # The same SQL on the same database: identical, bit for bit.
        assert (a.count, a.nan_count, a.first_step, a.last_step) == (
            b.count,
            b.nan_count,
            b.first_step,
            b.last_step,
        )
        np.testing.assert_array_equal([a.last, a.min, a.max], [b.last, b.min, b.max])
        np.testing.assert_array_equal(a.trend, b.trend)
        assert (a.count, a.nan_count, a.first_step, a.last_step) == (
            c.count,
            c.nan_count,
            c.first_step,
            c.last_step,
        )
        np.testing.assert_array_equal([a.last, a.min, a.max], [c.last, c.min, c.max])
        np.testing.assert_allclose(a.trend, c.trend, rtol=1e-9, equal_nan=True)

    points = read_histories(fast, run_id, [*keys, "not_logged"])
    assert sorted(points) == keys
    for key in keys:
        np.testing.assert_array_equal(points[key].steps, per_key[key].steps)
        np.testing.assert_array_equal(points[key].values, per_key[key].values)  # NaN == NaN
        np.testing.assert_array_equal(points[key].timestamps, per_key[key].timestamps)
        assert points[key].steps.dtype == np.int64
        assert points[key].values.dtype == np.float64


def test_open_run_reads_a_sqlite_store_directly_and_falls_back_for_errors(store):
    run_id = store.log_run({"x": [(0, 1.0)]})

    reader, run = open_run(store.uri, None, None)
    assert isinstance(reader, SqliteStore)
    assert run.run_id == run_id

    with pytest.raises(typer.Exit):  # a wrong name: MLflow's client reports it, as before
        open_run(store.uri, None, "no-such")


def test_the_command_prints_the_same_json_either_way(invoke, store, monkeypatch):
    run_id = store.log_run(_special_series(), run_name="both")
    args = ("inspect", "metrics", run_id, "--tracking-uri", store.uri, "--json")

    fast = invoke(*args)
    monkeypatch.setattr(SqliteStore, "open", classmethod(lambda cls, uri: None))
    through_mlflow = invoke(*args)

    assert fast.exit_code == 0, fast.output
    assert through_mlflow.exit_code == 0, through_mlflow.output
    assert json.loads(fast.stdout) == json.loads(through_mlflow.stdout)
    assert json.loads(fast.stdout)["metrics"][0]["key"] == "ends_inf"


def test_one_reader_per_kind_of_store_and_every_reader_reads_the_same_points(store):
    from mlflow import MlflowClient

    from pat_skrl_mlflow import (
        RequestReader,
        SqliteFileReader,
        SqlStoreReader,
        metric_reader,
    )

    run_id = store.log_run({"loss": [(0, 1.0), (5, float("nan")), (10, 3.0)]})
    fast = SqliteStore.open(store.uri)
    readers = [metric_reader(fast), metric_reader(_client(store)), RequestReader(_client(store))]
    assert [type(r) for r in readers] == [SqliteFileReader, SqlStoreReader, RequestReader]
    assert isinstance(metric_reader(MlflowClient("http://127.0.0.1:9")), RequestReader)
    for reader in readers:
        [history] = reader.histories(run_id, ["loss", "absent"]).values()
        assert history.steps.tolist() == [0, 5, 10]
        np.testing.assert_array_equal(history.values, [1.0, np.nan, 3.0])
