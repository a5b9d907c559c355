"""`pat train --from-run RUN`: a run trained again from its own record alone."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from mlflow import MlflowClient

RUN_ID = re.compile(r"pat inspect metrics ([0-9a-f]{32})")


def pat_json(cwd, *args):
    """`pat train ... --json` in a process of its own (as users run it): the summary."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    done = subprocess.run(
        [sys.executable, "-m", "pat_cli", *args, "--json"],
        cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Downloading artifacts" not in done.stderr  # MLflow's progress bars stay off
    return json.loads(done.stdout)


def _first_reward(client, run_id):
    history = client.get_metric_history(run_id, "episode_reward_mean")
    return min(history, key=lambda m: m.step).value


def test_from_run_reproduces_the_params_and_the_first_reward(tmp_path):
    source = pat_json(
        tmp_path, "train", "--task", "CartPole-v1", "--num-envs", "2", "--timesteps", "64",
        "--seed", "3", "--log-interval", "16", "agent.agent.rollouts=16",
        "env.max_episode_steps=30",
    )["run_id"]  # fmt: skip

    copy = pat_json(tmp_path, "train", "--from-run", source)["run_id"]

    assert copy != source
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    before, after = client.get_run(source), client.get_run(copy)
    assert after.data.params == before.data.params  # the same task, options and agent config
    assert after.data.params["rollouts"] == "16"
    assert after.data.tags["pat.source_run"] == source
    assert _first_reward(client, copy) == _first_reward(client, source)  # same seed, CPU
    lengths = client.get_metric_history(copy, "episode_length_max")
    assert max(m.value for m in lengths) <= 30  # the recorded episode limit was replayed


def test_from_run_takes_overrides_on_top(invoke, tmp_path):
    original = invoke("train", "--task", "CartPole-v1", "--num-envs", "2", "--timesteps", "32")
    assert original.exit_code == 0, original.output
    source = RUN_ID.search(original.output).group(1)

    again = invoke("train", "--from-run", source, "--timesteps", "48", "agent.agent.rollouts=8")

    assert again.exit_code == 0, again.output
    params = (
        MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
        .get_run(RUN_ID.search(again.output).group(1))
        .data.params
    )
    assert (params["timesteps"], params["rollouts"], params["num_envs"]) == ("48", "8", "2")


def test_from_run_of_an_unknown_run_or_another_task_is_one_line(invoke, error_line, store):
    unknown = invoke("train", "--from-run", "0123456789abcdef", "--tracking-uri", store.uri)
    assert unknown.exit_code == 2, unknown.output
    assert "invalid value for --from-run: '0123456789abcdef'" in error_line(unknown)

    bare = store.log_run({"x": [(0, 1.0)]})  # a run pat train did not make
    result = invoke("train", "--from-run", bare, "--tracking-uri", store.uri)
    assert result.exit_code == 2, result.output
    assert "a run `pat train` recorded" in error_line(result)
