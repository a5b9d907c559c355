"""Distributed runs: only rank 0 writes; optional merging across ranks (2 gloo processes)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from mlflow import MlflowClient

from conftest import SCRIPTS
from pat_skrl_mlflow import SKRL_ALIASES
from skrl_mlflow_support import metric_histories, same_value


def _combine(tag, values):
    if tag.endswith("(min)"):
        return min(values)
    if tag.endswith("(max)"):
        return max(values)
    return math.fsum(values) / len(values)


STD_TAG = "Reward / Instantaneous reward (mean)"  # rank_child.py logs its std too


def test_rank_zero_writes_and_aggregates_across_ranks(store, child_env, tmp_path):
    init_file = tmp_path / "dist-init"
    children = [
        subprocess.Popen(
            [
                sys.executable,
                str(SCRIPTS / "rank_child.py"),
                str(rank),
                "2",
                store,
                str(init_file),
                str(tmp_path),
            ],
            cwd=tmp_path,
            env=child_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in (0, 1)
    ]
    outputs = [child.communicate(timeout=300)[0] for child in children]
    for child, output in zip(children, outputs, strict=True):
        assert child.returncode == 0, output[-4000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]

    client = MlflowClient(tracking_uri=store)
    runs = {run.info.run_name: run for run in client.search_runs(["0"])}
    assert sorted(runs) == ["aggregated", "plain"]  # one run per training, not one per rank

    # without aggregation: rank 0 logs its own values; rank 1 captures and keeps nothing
    plain0, plain1 = ranks[0]["plain"], ranks[1]["plain"]
    assert plain0["run_id"] == runs["plain"].info.run_id
    assert plain1["run_id"] is None
    assert plain1["tracking_data_type"] == "DiscardingDict"
    assert plain1["values_held_after_training"] == 0
    histories = metric_histories(store, plain0["run_id"])
    for step, window in plain0["reduced"].items():
        for tag, value in window.items():
            assert same_value(dict(histories[SKRL_ALIASES[tag]])[int(step)], value), tag

    # with aggregation: every window holds the statistics of both ranks' values together
    # (the pooled mean, min/max for extrema, the std of all values, not a mean of stds)
    agg0, agg1 = ranks[0]["aggregated"], ranks[1]["aggregated"]
    assert agg1["run_id"] is None
    histories = metric_histories(store, agg0["run_id"])
    checked = 0
    for step, window0 in agg0["windows"].items():
        window1 = agg1["windows"][step]
        for tag in window0.keys() | window1.keys():
            values = [v for w in (window0, window1) for v in w.get(tag, [])]
            logged = dict(histories[SKRL_ALIASES[tag]])[int(step)]
            assert same_value(logged, _combine(tag, values)), (tag, step)
            checked += 1
        pooled = np.std(np.asarray(window0[STD_TAG] + window1[STD_TAG]))
        logged_std = dict(histories[SKRL_ALIASES[STD_TAG] + "/std"])[int(step)]
        assert logged_std == pytest.approx(float(pooled), rel=1e-5), step
        averaged = (np.std(window0[STD_TAG]) + np.std(window1[STD_TAG])) / 2
        if not math.isclose(float(pooled), averaged, rel_tol=1e-3):  # the ranks' means differ
            assert not math.isclose(logged_std, averaged, rel_tol=1e-3), step
    assert checked > 40
    # the two ranks trained with different seeds: aggregation changed the values
    assert agg0["reduced"] != agg1["reduced"]
