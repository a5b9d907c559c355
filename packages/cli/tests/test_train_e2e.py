"""`pat train` as a user runs it: a real subprocess, a real sqlite store, then inspect the run."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pat_cli import _format


def pat_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "pat_cli", *args]


IMPORT_PROBE = (
    "import atexit, sys; "
    "atexit.register(lambda: print('probe: mlflow imported:', 'mlflow' in sys.modules)); "
    "from pat_cli.app import main; main()"
)
"""`pat` that prints, as its process ends, whether it imported MLflow itself."""


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(COLUMNS="120", NO_COLOR="1")
    return env


def run_pat(
    cwd: Path, *args: str, timeout: float = 600, command: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*(command or pat_command()), *args],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def stored_points(database: Path) -> dict[str, list[int]]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT key, step FROM metrics ORDER BY key, step").fetchall()
    steps: dict[str, list[int]] = {}
    for key, step in rows:
        steps.setdefault(key, []).append(step)
    return steps


def tensorboard_last_step(directory: Path, tag: str) -> int | None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = sorted(directory.glob("**/events.out.tfevents.*"))
    assert events, f"no TensorBoard events under {directory}"
    accumulator = EventAccumulator(str(events[-1].parent), size_guidance={"scalars": 0})
    accumulator.Reload()
    return max((event.step for event in accumulator.Scalars(tag)), default=None)


def test_train_cartpole_then_inspect_and_filter_its_run(invoke, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    done = run_pat(
        work,
        "train",
        "--task",
        "CartPole-v1",
        "--num-envs",
        "4",
        "--timesteps",
        "200",
        "--log-interval",
        "50",
        "--seed",
        "3",
        "--experiment",
        "e2e",
        command=[sys.executable, "-c", IMPORT_PROBE],
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    out = done.stdout
    assert "pat train · CartPole-v1 · FINISHED" in out
    run_id = re.search(r"pat inspect metrics ([0-9a-f]{32})\n", out).group(1)
    database = work / "mlflow.db"  # MLflow's default store in the working directory
    assert f"mlflow ui --backend-store-uri sqlite:///{database}" in out

    points = stored_points(database)
    # The log interval is real: every key is logged exactly on the multiples of 50 it reached.
    assert points["episode_reward_mean"] == [50, 100, 150, 200]
    assert points["policy_loss"] == [50, 100, 150, 200]  # updates at 32, 64, ... (rollouts 32)
    assert all(set(steps) <= {50, 100, 150, 200} for steps in points.values()), points
    assert "Episode_Metrics/pole_angle_abs" in points
    logged = int(re.search(r"metrics logged\s+([\d,]+) points", out).group(1).replace(",", ""))
    assert logged == sum(map(len, points.values()))
    assert list(work.glob("runs/CartPole-v1/*/pat_run.json"))
    # pat train ends its process without Python's teardown: skrl's TensorBoard events survive
    assert tensorboard_last_step(work / "runs", "Reward / Instantaneous reward (mean)") == 200
    # the store writer process made the run: training never paid for MLflow's import
    assert "probe: mlflow imported: False" in out

    # The run it created, read back by the other commands (in-process, same store).
    inspected = invoke(
        "inspect", "metrics", "--json", "--tracking-uri", f"sqlite:///{database}",
        "--experiment", "e2e",
    )  # fmt: skip
    assert inspected.exit_code == 0, inspected.output
    summary = json.loads(inspected.stdout)
    assert summary["run_id"] == run_id
    assert summary["status"] == "FINISHED"
    reward = next(m for m in summary["metrics"] if m["key"] == "episode_reward_mean")
    assert (reward["count"], reward["first_step"], reward["last_step"]) == (4, 50, 200)

    filtered = invoke(
        "dry-run", "filter", "episode_reward_mean", "Episode_Metrics/*", "Policy_Loss",
        "--run", run_id, "--tracking-uri", f"sqlite:///{database}", "--json", "--strict",
    )  # fmt: skip
    assert filtered.exit_code == 1, filtered.output  # Policy_Loss: wrong case
    report = json.loads(filtered.stdout)
    assert {n["key"] for n in report["names"] if n["logged"]} == {
        "episode_reward_mean",
        "Episode_Metrics/cart_position_abs_max",
        "Episode_Metrics/pole_angle_abs",
    }
    assert report["unmatched"][0]["case_matches"] == ["policy_loss"]


@pytest.mark.parametrize(
    ("sent", "code", "said"),
    [
        (signal.SIGINT, 130, "Interrupted: the run ended as KILLED"),
        # SIGTERM (kill, SLURM's time limit): before, the process died of it, printing nothing
        (signal.SIGTERM, 143, "Terminated (SIGTERM): the run ended as KILLED"),
    ],
)
def test_ctrl_c_or_sigterm_ends_the_run_killed_with_every_point_stored(tmp_path, sent, code, said):
    process = subprocess.Popen(
        pat_command(
            "train", "--task", "CartPole-v1", "--num-envs", "4", "--timesteps", "1000000",
            "--log-interval", "step",
        ),
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    database = tmp_path / "mlflow.db"
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            if database.exists() and sum(map(len, _safe_points(database).values())) > 100:
                break
            assert process.poll() is None, process.communicate()
            time.sleep(1)
        process.send_signal(sent)
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()

    assert process.returncode == code, out + err
    assert "Traceback" not in err
    assert said in err
    assert "pat train · CartPole-v1 · KILLED" in out
    assert "Checkpoints: " in out
    with sqlite3.connect(database) as connection:
        (status,) = connection.execute("SELECT status FROM runs").fetchone()
    assert status == "KILLED"
    logged = int(re.search(r"metrics logged\s+([\d,]+) points", out).group(1).replace(",", ""))
    assert logged == sum(map(len, stored_points(database).values()))


def _stored_values(database: Path, key: str) -> list[tuple[int, float]]:
    with sqlite3.connect(database) as connection:
        query = "SELECT step, value FROM metrics WHERE key = ? ORDER BY step, timestamp"
        return [(int(step), float(value)) for step, value in connection.execute(query, (key,))]


def first_line(output: str, starting: str) -> str:
    return next(line for line in output.splitlines() if line.strip().startswith(starting))


def _safe_points(database: Path) -> dict[str, list[int]]:
    try:
        return stored_points(database)
    except sqlite3.OperationalError:  # tables not created yet, or locked by the writer
        return {}


@pytest.mark.isaaclab
def test_train_isaac_cartpole_v0_learns(tmp_path):
    """The README's main command, shortened: the 2.x id, 64 envs, a fifth of the timesteps."""
    pytest.importorskip("isaaclab")
    done = run_pat(
        tmp_path,
        "train", "--task", "Isaac-Cartpole-v0", "--num-envs", "64", "--timesteps", "480",
        "--log-interval", "rollout", "--device", "cpu",
        timeout=900,
    )  # fmt: skip

    assert done.returncode == 0, done.stdout + done.stderr
    assert "Isaac-Cartpole-v0 is called Isaac-Cartpole since Isaac Lab 3.0" in done.stdout
    points = stored_points(tmp_path / "mlflow.db")
    assert points["episode_reward_mean"]
    assert all(step % 16 == 0 or step == 480 for step in points["episode_reward_mean"])
    assert "Episode_Reward/alive" in points
    assert "Episode_Metrics/pole_angle_abs" in points


def test_checkpoint_resumes_the_same_run_with_its_weights(invoke, tmp_path):
    """In-process: train, then --checkpoint loads the weights and logs to the same MLflow run."""
    first = invoke(
        "train", "--task", "CartPole-v1", "--num-envs", "2", "--timesteps", "64",
        "--log-interval", "32",
    )  # fmt: skip
    assert first.exit_code == 0, first.output
    run_id = re.search(r"pat inspect metrics ([0-9a-f]{32})", first.output).group(1)
    checkpoint = max(
        tmp_path.glob("runs/CartPole-v1/*/checkpoints/agent_*.pt"),
        key=lambda p: int(p.stem.split("_")[1]),
    )
    assert checkpoint.name == "agent_60.pt"  # checkpoint_interval "auto": every timesteps / 10
    before = stored_points(tmp_path / "mlflow.db")
    last = max(step for steps in before.values() for step in steps)
    assert last == 64

    second = invoke(
        "train", "--task", "CartPole-v1", "--num-envs", "2", "--timesteps", "64",
        "--log-interval", "32", "--checkpoint", str(checkpoint), "--resume",
    )  # fmt: skip

    assert second.exit_code == 0, second.output
    assert re.search(r"pat inspect metrics ([0-9a-f]{32})", second.output).group(1) == run_id
    with sqlite3.connect(tmp_path / "mlflow.db") as connection:
        runs = connection.execute("SELECT run_uuid, status FROM runs").fetchall()
        (points,) = connection.execute(
            "SELECT count(*) FROM metrics WHERE key = 'policy_loss'"
        ).fetchone()
    assert runs == [(run_id, "FINISHED")]
    assert points == 4  # two windows per training, both trainings in the one run
    assert "metrics continue after step 64" in second.output
    rewards = _stored_values(tmp_path / "mlflow.db", "episode_reward_mean")
    this_session = [value for step, value in rewards if step > 64]
    shown_first, shown_last = (_format.number(v) for v in (this_session[0], this_session[-1]))
    # the summary's first reward is this session's, not the earlier session's (step <= 64)
    assert f"{shown_first} (first) -> {shown_last} (last)" in second.output
    # where this session's checkpoints are: what the next --checkpoint takes
    row = first_line(second.output, "Checkpoints: ")
    shown = re.search(r"(runs/CartPole-v1/\S+/checkpoints)/ \(latest (agent_\d+\.pt)\)", row)
    assert shown, row
    assert (tmp_path / shown.group(1) / shown.group(2)).is_file()
    after = stored_points(tmp_path / "mlflow.db")
    assert after["policy_loss"] == [32, 64, 96, 128]  # the interval grid continues
    for key, steps in after.items():
        assert len(steps) == len(set(steps)), (key, steps)  # no step logged twice
        added = steps[len(before.get(key, [])) :]
        assert steps[: len(before.get(key, []))] == before.get(key, []), key
        assert all(step > last for step in added), (key, added)
    assert set(after) >= set(before)


def test_a_training_that_crashes_ends_failed_with_one_line(invoke, error_line, tmp_path):
    """A continuous-action config on a discrete env: skrl builds it, the first step fails."""
    from pat_cli.tasks import read_text

    agent_cfg = tmp_path / "gaussian.yaml"
    agent_cfg.write_text(read_text("pendulum_v1_ppo.yaml"))

    result = invoke(
        "train", "--task", "Acrobot-v1", "--agent-cfg", str(agent_cfg), "--timesteps", "20",
        "--num-envs", "2",
    )  # fmt: skip

    assert result.exit_code == 1, result.output
    assert "training failed after 0 timesteps: ValueError" in error_line(result)
    assert "PAT_TRACEBACK=1" in result.output
    with sqlite3.connect(tmp_path / "mlflow.db") as connection:
        assert connection.execute("SELECT status FROM runs").fetchall() == [("FAILED",)]


def test_json_output_is_one_object_and_quiet_prints_nothing_on_stdout(tmp_path):
    """Issue 18 item 2: --json for scripts, --quiet for logs that want only problems."""
    args = ("train", "--task", "CartPole-v1", "--num-envs", "2", "--timesteps", "64")
    done = run_pat(tmp_path, *args, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads(done.stdout)
    assert document["status"] == "FINISHED"
    assert document["points_logged"] > 0
    assert any(
        c.removeprefix("uv run ").startswith("pat inspect metrics")
        for c in document["next_commands"]
    )
    quiet = run_pat(tmp_path, *args, "--quiet")
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    assert quiet.stdout.strip() == ""


def test_an_off_policy_agent_s_header_says_when_it_logs(invoke, tmp_path):
    """SAC has no rollouts: the header said "once per rollout"; it logs every write_interval."""
    result = invoke(
        "train", "--task", "Pendulum-v1", "--algorithm", "sac", "--num-envs", "2",
        "--timesteps", "400",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    # write_interval "auto" in pat's SAC config: timesteps / 100
    assert "log interval every 4 timesteps (SAC has no rollouts: skrl's write_interval" in " ".join(
        result.output.split()
    )
    steps = {step for points in stored_points(tmp_path / "mlflow.db").values() for step in points}
    assert steps == set(range(4, 401, 4))


def _runs(database: Path) -> dict[str, dict[str, str]]:
    with sqlite3.connect(database) as connection:
        ids = [row[0] for row in connection.execute("SELECT run_uuid FROM runs")]
        tags = connection.execute("SELECT run_uuid, key, value FROM tags").fetchall()
    return {i: {k: v for r, k, v in tags if r == i} for i in ids}


def test_warm_start_from_latest_then_resume_from_a_runs_uri(invoke, tmp_path):
    """--checkpoint latest: the weights, in a new run tagged with its parent; runs:/ --resume:
    the checkpoint pat logged as an artifact, continuing its own run."""
    args = ("train", "--task", "CartPole-v1", "--num-envs", "2", "--timesteps", "64",
            "--log-interval", "32")  # fmt: skip
    first = invoke(*args)
    assert first.exit_code == 0, first.output
    parent = re.search(r"pat inspect metrics ([0-9a-f]{32})", first.output).group(1)

    warm = invoke(*args, "--checkpoint", "latest")

    assert warm.exit_code == 0, warm.output
    child = re.search(r"pat inspect metrics ([0-9a-f]{32})", warm.output).group(1)
    assert child != parent
    runs = _runs(tmp_path / "mlflow.db")
    assert runs[child]["pat.parent_run"] == parent
    assert "Warm start from runs/CartPole-v1/" in " ".join(warm.output.split())
    with sqlite3.connect(tmp_path / "mlflow.db") as connection:
        steps = connection.execute(
            "SELECT step FROM metrics WHERE run_uuid = ? AND key = 'policy_loss' ORDER BY step",
            (child,),
        ).fetchall()
    assert [s for (s,) in steps] == [32, 64]  # a new run starts at the beginning

    resumed = invoke(*args, "--checkpoint", f"runs:/{parent}/checkpoints/agent_60.pt", "--resume")

    assert resumed.exit_code == 0, resumed.output
    assert re.search(r"pat inspect metrics ([0-9a-f]{32})", resumed.output).group(1) == parent
    assert "metrics continue after step 64" in resumed.output
    assert len(_runs(tmp_path / "mlflow.db")) == 2


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--checkpoint", "latest"], "no agent_*.pt under runs/CartPole-v1/*/checkpoints here"),
        (["--checkpoint", "best"], "no best_agent.pt under runs/CartPole-v1/*/checkpoints here"),
        (["--checkpoint", "runs:/0123456789abcdef/checkpoints/agent_1.pt"], "runs:/<run id>/"),
        (["--checkpoint", "s3://bucket/agent.pt"], "expected an existing skrl checkpoint file"),
        (["--resume"], "--resume needs --checkpoint"),
    ],
)
def test_a_bad_checkpoint_selector_is_one_line(invoke, error_line, store, args, expected):
    result = invoke("train", "--task", "CartPole-v1", "--tracking-uri", store.uri, *args)

    assert result.exit_code == 2, result.output
    assert expected in error_line(result)
    assert not (Path.cwd() / "runs").exists()  # invoke runs in the test's empty directory
