"""`pat inspect metrics` against real sqlite MLflow stores filled with log_batch."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pat_cli._sparkline import BARS


def ramp(count: int, *, every: int = 10, start: float = 0.0) -> list[tuple[int, float]]:
    return [(i * every, start + i) for i in range(count)]


def test_latest_run_is_the_default_and_each_key_gets_a_row(invoke, store):
    store.log_run({"old_key": ramp(3)}, run_name="older", start_time=1_000)
    run_id = store.log_run(
        {"episode_reward_mean": ramp(50, start=-2.0), "policy_loss": [(0, 3.0), (10, 1.0)]},
        run_name="newer",
        start_time=2_000,
    )

    result = invoke("inspect", "metrics", "--tracking-uri", store.uri)

    assert result.exit_code == 0, result.output
    assert run_id in result.output
    assert "newer" in result.output
    assert "old_key" not in result.output
    rows = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    assert rows["episode_reward_mean"].split()[1:6] == ["50", "0\u2013490", "47", "-2", "47"]
    assert rows["policy_loss"].split()[1:6] == ["2", "0\u201310", "1", "1", "3"]
    # A steady rise is drawn from the lowest bar to the highest.
    trend = rows["episode_reward_mean"].split()[-1]
    assert trend[0] == BARS[0]
    assert trend[-1] == BARS[-1]
    assert "summarised in the database" in result.output


def test_json_has_exact_numbers_and_nan_as_null(invoke, store):
    run_id = store.log_run(
        {
            "a": [(0, 1.5), (5, math.nan), (10, -4.0), (15, 2.0)],
            "only_nan": [(0, math.nan), (1, math.nan)],
        }
    )

    result = invoke("inspect", "metrics", run_id, "--tracking-uri", store.uri, "--json")

    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["run_id"] == run_id
    assert payload["experiment"] == "Default"
    assert payload["status"] == "FINISHED"
    by_key = {m["key"]: m for m in payload["metrics"]}
    assert by_key["a"] | {"trend": None} == {
        "key": "a",
        "count": 4,
        "nan_count": 1,
        "first_step": 0,
        "last_step": 15,
        "last": 2.0,
        "min": -4.0,
        "max": 2.0,
        "trend": None,
    }
    assert by_key["only_nan"]["min"] is None
    assert by_key["only_nan"]["last"] is None
    assert by_key["only_nan"]["nan_count"] == 2


def test_tracking_uri_comes_from_the_environment(invoke, store):
    run_id = store.log_run({"x": ramp(2)})

    result = invoke("inspect", "metrics", "--json", env={"MLFLOW_TRACKING_URI": store.uri})

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["run_id"] == run_id


def test_experiment_option_picks_that_experiments_latest_run(invoke, store):
    wanted = store.log_run({"x": ramp(2)}, experiment="cartpole", start_time=1_000)
    store.log_run({"y": ramp(2)}, experiment="other", start_time=2_000)

    result = invoke(
        "inspect", "metrics", "--json", "--tracking-uri", store.uri, "--experiment", "cartpole"
    )

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["run_id"] == wanted


def test_key_globs_choose_rows(invoke, store):
    store.log_run({"Episode_Reward/alive": ramp(3), "Episode_Reward/pole": ramp(3), "lr": ramp(3)})

    result = invoke(
        "inspect", "metrics", "--json", "--tracking-uri", store.uri, "--key", "Episode_*"
    )

    assert result.exit_code == 0, result.output
    keys = [m["key"] for m in json.loads(result.stdout)["metrics"]]
    assert keys == ["Episode_Reward/alive", "Episode_Reward/pole"]


def test_key_glob_matching_nothing_names_the_case_mistake(invoke, store, error_line):
    run_id = store.log_run({"episode_reward_mean": ramp(3)})

    result = invoke("inspect", "metrics", "--tracking-uri", store.uri, "-k", "Episode_reward*")

    assert result.exit_code == 1
    assert "--key 'Episode_reward*' matches no metric key of run " + run_id in error_line(result)
    assert "case-sensitive" in result.output
    assert "'episode_reward_mean'" in result.output


def test_key_takes_the_metric_filter_language(invoke, store):
    # --key, --metric-filter and dry-run share pat-core's patterns: exact, glob and re:
    store.log_run({"policy_loss": ramp(3), "value_loss": ramp(3), "lr": ramp(3)})

    result = invoke(
        "inspect", "metrics", "--json", "--tracking-uri", store.uri,
        "--key", "re:(policy|value)_loss", "--key", "lr",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    keys = [m["key"] for m in json.loads(result.stdout)["metrics"]]
    assert keys == ["lr", "policy_loss", "value_loss"]


def test_key_with_a_bad_regex_is_a_usage_error(invoke, store, error_line):
    store.log_run({"policy_loss": ramp(3)})

    result = invoke("inspect", "metrics", "--tracking-uri", store.uri, "--key", "re:(")

    assert result.exit_code == 2
    assert "'re:('" in error_line(result)


def test_unknown_experiment_id_from_the_environment_is_a_domain_error(
    invoke, store, error_line, monkeypatch
):
    store.log_run({"x": ramp(2)})
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", "424242")

    result = invoke("inspect", "metrics", "--tracking-uri", store.uri)

    assert result.exit_code == 1
    assert "experiment id '424242' (MLFLOW_EXPERIMENT_ID) not found" in error_line(result)
    assert "unset MLFLOW_EXPERIMENT_ID" in result.output


def test_unknown_run_is_a_domain_error_with_a_hint(invoke, store, error_line):
    store.log_run({"x": ramp(2)})

    result = invoke("inspect", "metrics", "0123456789abcdef", "--tracking-uri", store.uri)

    assert result.exit_code == 1
    assert "run '0123456789abcdef' not found" in error_line(result)
    assert "Hint:" in result.output


def test_missing_default_store_is_reported_not_created(invoke, tmp_path, error_line):
    result = invoke("inspect", "metrics")

    assert result.exit_code == 1
    assert "no MLflow store at sqlite:///" in error_line(result)
    assert not (tmp_path / "mlflow.db").exists()


def test_unreachable_server_is_a_domain_error(invoke, error_line):
    result = invoke(
        "inspect",
        "metrics",
        "--tracking-uri",
        "http://127.0.0.1:9",
        env={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"},
    )

    assert result.exit_code == 1
    assert "cannot read the MLflow store http://127.0.0.1:9" in error_line(result)


def test_unknown_experiment_lists_the_known_ones(invoke, store, error_line):
    store.log_run({"x": ramp(2)}, experiment="cartpole")

    result = invoke("inspect", "metrics", "--tracking-uri", store.uri, "--experiment", "carpole")

    assert result.exit_code == 1
    assert "experiment 'carpole' not found" in error_line(result)
    assert "'cartpole'" in result.output


def test_plot_writes_an_image_of_the_chosen_keys(invoke, store, tmp_path):
    store.log_run({"a": ramp(20), "b": ramp(20, start=3.0), "c": ramp(5)})
    image = tmp_path / "curves.png"

    result = invoke(
        "inspect", "metrics", "--tracking-uri", store.uri, "--key", "[ab]", "--plot", str(image)
    )

    assert result.exit_code == 0, result.output
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert image.stat().st_size > 5_000
    assert f"Plot written to {image}" in result.output


@pytest.mark.parametrize(
    ("name", "accepted"), [("curves.gif", "ending in .png"), ("no/such/dir/x.png", "existing")]
)
def test_bad_plot_path_is_a_usage_error(invoke, store, error_line, name, accepted):
    store.log_run({"a": ramp(2)})

    result = invoke("inspect", "metrics", "--tracking-uri", store.uri, "--plot", name)

    assert result.exit_code == 2
    line = error_line(result)
    assert f"invalid value for --plot: '{name}'" in line
    assert accepted in line


def test_database_summary_equals_per_key_histories(store):
    """The one-query SQL path and the per-key path (HTTP stores) give the same numbers."""
    from mlflow import MlflowClient

    from pat_skrl_mlflow import read_histories_per_key, summarize_histories, summarize_run

    rng = np.random.default_rng(7)
    series = {}
    for index in range(12):
        count = int(rng.integers(1, 300))
        steps = np.sort(rng.choice(np.arange(5_000), size=count, replace=False)) + 100 * index
        values = rng.normal(scale=10.0 ** rng.integers(-3, 6), size=count)
        values[rng.random(count) < 0.05] = np.nan
        values[rng.random(count) < 0.02] = np.inf
        series[f"group{index % 3}/key_{index}"] = list(
            zip(steps.tolist(), values.tolist(), strict=True)
        )
    run_id = store.log_run(series)
    client = MlflowClient(store.uri)
    latest = client.get_run(run_id).data.metrics
    keys = sorted(series)

    from_sql, method = summarize_run(client, run_id, keys, latest)
    histories = read_histories_per_key(client, run_id, keys)
    from_memory = summarize_histories([histories[k] for k in keys])

    assert method == "sql"
    assert [s.key for s in from_sql] == keys
    for a, b in zip(from_sql, from_memory, strict=True):
        assert (a.count, a.nan_count, a.first_step, a.last_step) == (
            b.count,
            b.nan_count,
            b.first_step,
            b.last_step,
        )
        np.testing.assert_array_equal([a.last, a.min, a.max], [b.last, b.min, b.max])
        np.testing.assert_allclose(a.trend, b.trend, rtol=1e-9, equal_nan=True)
    # And against the raw points: counts and NaN-ignoring extremes.
    for summary in from_sql:
        values = np.array([v for _, v in series[summary.key]])
        real = values[~np.isnan(values)]
        assert summary.count == len(values)
        if len(real):
            # SQL stores keep +inf as the largest double.
            assert summary.max == min(real.max(), np.finfo(np.float64).max)
            assert summary.min == real.min()


# 26 filler keys sort before the three a user looks for first; 29 keys in all, more than a page.
MANY_KEYS = [f"Episode_Reward/term_{i:02d}" for i in range(26)] + [
    "learning_rate",
    "policy_loss",
    "value_loss",
]


def many_keys_run(store, *, with_nan_key: bool = False) -> str:
    series = {key: ramp(30, start=float(index)) for index, key in enumerate(MANY_KEYS)}
    if with_nan_key:
        series["only_nan"] = [(0, math.nan), (10, math.nan)]
    return store.log_run(series)


def pdf_page_count(path: Path) -> int:
    """Pages of a PDF matplotlib wrote: its page tree's ``/Count`` (object dictionaries are plain
    text; only the page contents are compressed)."""

    counts = re.findall(rb"/Type /Pages /Kids \[[^\]]*\] /Count (\d+)", path.read_bytes())
    assert len(counts) == 1, counts
    return int(counts[0])


def test_plot_draws_every_key_one_png_per_24_and_names_them_after_the_table(
    invoke, store, tmp_path
):
    many_keys_run(store, with_nan_key=True)
    first, second = tmp_path / "curves.png", tmp_path / "curves-2.png"

    result = invoke("inspect", "metrics", "--tracking-uri", store.uri, "--plot", str(first))

    assert result.exit_code == 0, result.output
    for image in (first, second):
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.glob("curves*")) == ["curves-2.png", "curves.png"]
    lines = result.stdout.splitlines()
    assert lines[-1] == (
        f"Plot written to {first} (24 keys), {second} (5 keys); "
        "not plotted (no finite value): only_nan."
    )
    # The line comes after every row of the table, and nothing about the plot goes to stderr.
    rows = [i for i, line in enumerate(lines) if line.split()[:1] == ["value_loss"]]
    assert len(rows) == 1
    assert rows[0] < len(lines) - 1
    assert result.stderr == ""


def test_plot_json_lists_each_file_with_its_keys(invoke, store, tmp_path):
    many_keys_run(store, with_nan_key=True)
    image = tmp_path / "curves.svg"

    result = invoke(
        "inspect", "metrics", "--tracking-uri", store.uri, "--plot", str(image), "--json"
    )

    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    files = payload["plot"]
    assert [f["file"] for f in files] == [str(image), str(tmp_path / "curves-2.svg")]
    assert [len(f["keys"]) for f in files] == [24, 5]
    assert [k for f in files for k in f["keys"]] == MANY_KEYS
    assert payload["not_plotted"] == ["only_nan"]
    assert all(Path(f["file"]).read_bytes().startswith(b"<?xml") for f in files)


def test_plot_pdf_has_one_page_per_24_keys(invoke, store, tmp_path):
    many_keys_run(store)
    pdf = tmp_path / "curves.pdf"

    result = invoke("inspect", "metrics", "--tracking-uri", store.uri, "--plot", str(pdf))

    assert result.exit_code == 0, result.output
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert pdf_page_count(pdf) == 2
    assert list(tmp_path.glob("curves*")) == [pdf]
    assert result.stdout.splitlines()[-1] == f"Plot written to {pdf} (29 keys on 2 pages)."


def test_plot_key_glob_draws_only_the_chosen_keys_on_one_page(invoke, store, tmp_path):
    many_keys_run(store)
    pdf = tmp_path / "losses.pdf"

    result = invoke(
        "inspect", "metrics", "--tracking-uri", store.uri, "-k", "*_loss", "--plot", str(pdf)
    )

    assert result.exit_code == 0, result.output
    assert pdf_page_count(pdf) == 1
    assert result.stdout.splitlines()[-1] == f"Plot written to {pdf} (2 keys)."


def test_pages_hold_every_key_as_a_panel_title(store):
    """Read the panels back: each key is the title of exactly one visible axes, 24 a page."""
    from matplotlib import pyplot as plt
    from mlflow import MlflowClient

    from pat_cli._plot import Panel, page_figures
    from pat_skrl_mlflow import read_histories

    run_id = many_keys_run(store)
    histories = read_histories(MlflowClient(store.uri), run_id, MANY_KEYS)

    titles = []
    panels = [Panel(k, (histories[k],)) for k in MANY_KEYS]
    for figure, keys in page_figures(panels, title="t"):
        shown = [ax.get_title() for ax in figure.axes if ax.get_visible()]
        assert shown == keys
        titles.append(shown)
        plt.close(figure)

    assert [len(page) for page in titles] == [24, 5]
    assert [t for page in titles for t in page] == MANY_KEYS


def test_only_nan_keys_write_no_plot_and_say_so(invoke, store, tmp_path):
    store.log_run({"only_nan": [(0, math.nan), (10, math.nan)]})
    image = tmp_path / "curves.png"

    result = invoke("inspect", "metrics", "--tracking-uri", store.uri, "--plot", str(image))

    assert result.exit_code == 0, result.output
    assert not image.exists()
    assert result.stdout.splitlines()[-1] == (
        "No plot written; not plotted (no finite value): only_nan."
    )


def test_plot_line_is_on_stdout_of_the_real_command(store, tmp_path):
    """As a user runs it: a pipe 80 columns wide, stdout and stderr apart."""
    many_keys_run(store)
    image = tmp_path / "curves.jpg"

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pat_cli",
            "inspect",
            "metrics",
            "--tracking-uri",
            store.uri,
            "--plot",
            str(image),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "80"},
    )

    assert result.returncode == 0, result.stderr
    second = tmp_path / "curves-2.jpg"
    assert result.stdout.splitlines()[-1] == (
        f"Plot written to {image} (24 keys), {second} (5 keys)."
    )
    assert image.read_bytes()[:2] == second.read_bytes()[:2] == b"\xff\xd8"
    assert "Plotted the first" not in result.stderr
