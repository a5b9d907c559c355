"""`pat runs` and `pat compare` on a real sqlite MLflow store, run as a user runs them.

Three runs are made with MLflow's client (FINISHED, FAILED, RUNNING; metrics over several
steps, not every run logging every key); the CLI runs in a subprocess at 80 columns with
its output on a pipe, and the tests read what a user sees.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

WIDTH = 80
T0 = 1_715_000_000_000  # 2024-05-06 12:53:20 UTC, in ms
HOUR = 3_600_000
# {name: (status, start, end, {key: [(step, value), ...]})}, oldest first; None: MLflow names it
RUNS: dict[str | None, tuple[str, int, int | None, dict[str, list[tuple[int, float]]]]] = {
    "ppo-baseline": (
        "FINISHED",
        T0,
        T0 + 125_000,
        {
            "episode_reward_mean": [(0, 10.0), (10, 50.0), (20, 30.0)],
            "policy_loss": [(0, 2.0), (10, 0.5), (20, 0.8)],
        },
    ),
    "ppo-lr-3e-4-seed-42-long-name": (
        "FAILED",
        T0 + HOUR,
        T0 + HOUR + 250_000,
        {
            "episode_reward_mean": [(0, 5.0), (10, 7.0)],
            "value_loss": [(0, 1.0), (10, 3.0), (20, 2.0)],
        },
    ),
    None: (
        "RUNNING",
        T0 + 2 * HOUR,
        None,
        {
            "episode_reward_mean": [(0, 100.0), (10, 90.0)],
            "policy_loss": [(0, 0.25), (10, 0.125)],
        },
    ),
}


@dataclass
class Made:
    """The store and the ids of the runs made in it, oldest first."""

    uri: str
    ids: list[str]
    cwd: Path

    @property
    def newest_first(self) -> list[str]:
        return self.ids[::-1]


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, _empty_database: Path) -> Made:
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    root = tmp_path_factory.mktemp("runs")
    path = root / "mlflow.db"
    shutil.copyfile(_empty_database, path)
    uri = f"sqlite:///{path}"
    client = MlflowClient(uri)
    experiment = client.create_experiment("cartpole")
    client.create_experiment("empty")
    ids = []
    for name, (status, start, end, series) in RUNS.items():
        run = client.create_run(experiment, run_name=name, start_time=start)
        points = [
            Metric(key, value, start + step, step)
            for key, values in series.items()
            for step, value in values
        ]
        client.log_batch(run.info.run_id, metrics=points)
        if status != "RUNNING":
            client.set_terminated(run.info.run_id, status=status, end_time=end)
        ids.append(run.info.run_id)
    return Made(uri, ids, root)


def pat(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m pat_cli ARGS`` at 80 columns, UTC, output to a pipe."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    return subprocess.run(
        [sys.executable, "-m", "pat_cli", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=cwd,
        env={**clean, "COLUMNS": str(WIDTH), "TZ": "UTC", **(env or {})},
    )


def runs_of(made: Made, *args: str) -> subprocess.CompletedProcess[str]:
    return pat(made.cwd, "runs", "--tracking-uri", made.uri, *args)


def rows_by_id(output: str, ids: list[str]) -> dict[str, list[str]]:
    """Each run's row: the line holding its whole id and the lines under it, to the next."""
    lines = output.splitlines()
    starts = {run_id: [i for i, line in enumerate(lines) if run_id in line] for run_id in ids}
    for run_id, found in starts.items():
        assert len(found) == 1, (run_id, output)  # whole, on one line, once
    order = sorted((found[0], run_id) for run_id, found in starts.items())
    ends = [start for start, _ in order[1:]] + [len(lines)]
    return {run_id: lines[start:end] for (start, run_id), end in zip(order, ends, strict=True)}


def values_logged(name: str | None, key: str) -> list[float]:
    return [value for _, value in RUNS[name][3][key]]


def test_runs_lists_every_run_newest_first_whole_ids_and_the_stored_values(made):
    from pat_cli import _format

    result = runs_of(made)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(len(line) <= WIDTH for line in lines), result.stdout
    rule = next(i for i, line in enumerate(lines) if line.startswith("\u2500"))
    first = next(i for i, line in enumerate(lines) if line.startswith((" ", "run id")))
    title, header = " ".join(" ".join(lines[:first]).split()), lines[first:rule]
    assert title == f"3 runs in {made.uri} (all experiments), newest first."
    assert any(line.startswith("run id ") for line in header), result.stdout
    name_at = next(line.index(" name ") + 1 for line in header if " name " in line)
    status_at = next(line.index("status") for line in header if "status" in line)
    rows = rows_by_id(result.stdout, made.ids)
    positions = [result.stdout.index(run_id) for run_id in made.newest_first]
    assert positions == sorted(positions)  # newest first
    for run_id, (name, (status, start, end, series)) in zip(made.ids, RUNS.items(), strict=True):
        row = rows[run_id]
        text = " ".join(row)
        assert status in row[0].split()
        when = datetime.fromtimestamp(start / 1000, tz=UTC)
        assert when.strftime("%Y-%m-%d") in text
        assert when.strftime("%H:%M") in text
        if end is not None:
            assert _format.duration((end - start) / 1000) in text
        if name:  # folded in its column, whole when its lines are put together
            assert "".join(line[name_at:status_at].strip() for line in row) == name
        # The default metric columns: episode_reward_mean, policy_loss (latest values)
        expected = [
            _format.number(series[k][-1][1]) if k in series else "-"
            for k in ("episode_reward_mean", "policy_loss")
        ]
        assert row[0].split()[-2:] == expected, row
    assert "FINISHED" in " ".join(rows[made.ids[0]])


def test_runs_json_is_a_list_with_the_stored_numbers(made):
    result = runs_of(made, "--json", "--metric", "value_loss", "--metric", "policy_loss")

    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)  # nothing but JSON on stdout
    assert [run["run_id"] for run in listed] == made.newest_first
    for run, (name, (status, start, end, series)) in zip(listed[::-1], RUNS.items(), strict=True):
        assert run["status"] == status
        assert run["experiment"] == "cartpole"
        if name:
            assert run["run_name"] == name
        assert run["start_time"] == datetime.fromtimestamp(start / 1000, tz=UTC).isoformat()
        assert run["duration_s"] == (None if end is None else (end - start) / 1000)
        assert run["metrics"] == {
            k: series[k][-1][1] if k in series else None for k in ("value_loss", "policy_loss")
        }


def test_runs_status_limit_and_chosen_experiment_filter(made):
    failed = json.loads(runs_of(made, "--status", "failed", "--json").stdout)
    newest = runs_of(made, "--limit", "1")
    every = runs_of(made, "--limit", "3")
    chosen = json.loads(runs_of(made, "--experiment", "cartpole", "--json").stdout)

    assert [run["run_id"] for run in failed] == [made.ids[1]]
    assert newest.returncode == 0, newest.stderr
    assert made.ids[2] in newest.stdout
    assert made.ids[1] not in newest.stdout
    assert "The newest 1 run " in newest.stdout
    assert "--limit N shows more" in " ".join(newest.stdout.split())
    assert every.stdout.startswith("3 runs in ")  # all there are: no "more"
    assert all(run_id in every.stdout for run_id in made.ids)
    assert [run["run_id"] for run in chosen] == made.newest_first


def test_runs_metric_option_picks_the_columns(made):
    result = runs_of(made, "--metric", "value_loss")

    assert result.returncode == 0, result.stderr
    rows = rows_by_id(result.stdout, made.ids)
    assert [rows[run_id][0].split()[-1] for run_id in made.ids] == ["-", "2", "-"]
    assert "policy_loss" not in result.stdout


def test_runs_of_an_unknown_experiment_names_it_and_those_there(made):
    result = runs_of(made, "--experiment", "carpole")

    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    assert "'carpole'" in errors[0]
    assert "'cartpole'" in errors[0]
    assert "'empty'" in errors[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_runs_of_an_empty_store_or_experiment_is_one_line_and_exit_0(made, store):
    empty_store = pat(made.cwd, "runs", "--tracking-uri", store.uri)
    empty_experiment = runs_of(made, "--experiment", "empty")
    as_json = runs_of(made, "--experiment", "empty", "--json")

    assert empty_store.returncode == 0, empty_store.stderr
    assert empty_store.stdout.strip() == f"No runs in {store.uri} (all experiments)."
    assert empty_experiment.returncode == 0, empty_experiment.stderr
    assert empty_experiment.stdout.strip() == f"No runs of experiment 'empty' in {made.uri}."
    assert json.loads(as_json.stdout) == []


def test_runs_bad_status_is_a_usage_error(made):
    result = runs_of(made, "--status", "done")

    assert result.returncode == 2
    assert "invalid value for --status: 'done'; expected one of RUNNING" in result.stderr


def test_runs_of_a_sqlite_store_imports_no_mlflow(made):
    code = (
        "import sys\nsys.argv = ['pat', *sys.argv[1:]]\nfrom pat_cli.app import main\n"
        "try:\n    main()\nfinally:\n    print('MLFLOW' if 'mlflow' in sys.modules else 'NONE')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, "runs", "--tracking-uri", made.uri, "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith("NONE"), result.stdout[-200:]
    assert made.ids[0] in result.stdout


def test_sqlite_listing_equals_mlflow_clients(made):
    """The direct sqlite read and MLflow's search_runs list the same runs, same values."""
    from pat_cli.commands.runs import _search_with_client
    from pat_skrl_mlflow import SqliteStore

    keys = ["episode_reward_mean", "policy_loss", "value_loss"]
    for experiment, status, limit in [
        (None, None, 20),
        ("cartpole", "FINISHED", 5),
        (None, None, 2),
    ]:
        fast = SqliteStore.open(made.uri)
        assert fast is not None
        direct = fast.list_runs(experiment, limit=limit, status=status, keys=keys)
        assert direct is not None
        through_mlflow = _search_with_client(
            made.uri, experiment, limit=limit, status=status, keys=keys
        )
        assert direct.runs == through_mlflow.runs
        assert direct.chosen == through_mlflow.chosen
        assert sorted(direct.experiments) == sorted(through_mlflow.experiments)


def compare(made: Made, *args: str) -> subprocess.CompletedProcess[str]:
    return pat(made.cwd, "compare", *args, "--tracking-uri", made.uri)


def test_compare_shows_each_runs_last_and_best_per_key(made):
    from pat_cli import _format

    result = compare(made, *made.ids)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(len(line) <= WIDTH for line in lines), result.stdout
    for run_id in made.ids:  # each full id once, whole, above the table
        assert sum(run_id in line for line in lines) == 1, result.stdout
    table = result.stdout[result.stdout.index("Best:") :]
    for run_id in made.ids:
        assert run_id[:8] in table
    assert "ppo-baseline" in table
    keys = ("episode_reward_mean", "policy_loss", "value_loss")
    rows = {words[0]: words[1:] for words in map(str.split, lines) if words and words[0] in keys}
    for key, goal in zip(keys, ["max", "min", "min"], strict=True):
        expected = [goal]
        for name in RUNS:
            if key in RUNS[name][3]:
                values = values_logged(name, key)
                best = max(values) if goal == "max" else min(values)
                expected += [_format.number(values[-1]), _format.number(best)]
            else:
                expected += ["-", "-"]
        assert rows[key] == expected, (key, result.stdout)


def test_compare_json_equals_what_was_logged(made):
    result = compare(made, made.ids[0], made.ids[2], "--json", "--key", "*loss", "-k", "episode_*")

    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert [run["run_id"] for run in payload["runs"]] == [made.ids[0], made.ids[2]]
    by_key = {row["key"]: row for row in payload["metrics"]}
    assert list(by_key) == ["episode_reward_mean", "policy_loss"]  # no run here has value_loss
    names = [*RUNS][0::2]
    for key, row in by_key.items():
        pick = max if row["goal"] == "max" else min
        for run_id, name in zip([made.ids[0], made.ids[2]], names, strict=True):
            values = values_logged(name, key)
            assert row["runs"][run_id] == {"last": values[-1], "best": pick(values)}
    assert by_key["policy_loss"]["goal"] == "min"
    assert by_key["episode_reward_mean"]["goal"] == "max"


def test_compare_plot_writes_an_image(made, tmp_path):
    image = tmp_path / "compare.png"

    result = compare(made, *made.ids, "--plot", str(image))

    assert result.returncode == 0, result.stderr
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert image.stat().st_size > 5_000
    assert f"Plot written to {image}" in result.stdout


def test_compare_needs_two_runs(made):
    one = compare(made, made.ids[0])
    twice = compare(made, made.ids[0], made.ids[0])

    assert one.returncode == 2
    assert "Usage: " in one.stderr
    assert " compare [OPTIONS] " in one.stderr
    assert "give 2 or more runs to compare" in one.stderr
    assert twice.returncode == 2
    assert f"run '{made.ids[0]}' is given twice" in twice.stderr


def test_compare_unknown_run_is_the_one_line_error(made):
    result = compare(made, made.ids[0], "0123456789abcdef")

    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [f"Error: run '0123456789abcdef' not found in {made.uri}: no run has this id"]
    assert "Traceback" not in result.stderr


def test_compare_key_matching_nothing_names_the_case_mistake(made):
    result = compare(made, *made.ids[:2], "--key", "Policy*")

    assert result.returncode == 1
    assert "--key 'Policy*' matches no metric key of these runs" in result.stderr
    assert "'policy_loss'" in result.stderr


def test_compare_plot_pages_every_key_like_inspect_metrics(invoke, store, tmp_path):
    # 30 keys: 24 panels a page, as `inspect metrics --plot` (it stopped at 24 keys)
    keys = [f"metric_{index:02d}" for index in range(30)]
    first = store.log_run({key: [(0, 0.0), (10, float(i))] for i, key in enumerate(keys)})
    second = store.log_run(
        {**{key: [(0, 1.0), (10, 2.0)] for key in keys[:5]}, "only_nan": [(0, math.nan)]}
    )
    image = tmp_path / "compare.png"

    result = invoke(
        "compare", first, second, "--tracking-uri", store.uri, "--json", "--plot", str(image)
    )

    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    files = shown["plot"]
    assert [f["file"] for f in files] == [str(image), str(tmp_path / "compare-2.png")]
    assert [len(f["keys"]) for f in files] == [24, 6]
    assert [k for f in files for k in f["keys"]] == keys  # every key, in the table's order
    assert shown["not_plotted"] == ["only_nan"]
    for file in files:
        assert Path(file["file"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
