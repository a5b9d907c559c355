"""`pat train ... KEY=VALUE`: Hydra overrides of the agent and env configs, checked early."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest
import yaml


def _steps(database, key, run_id=None):
    with sqlite3.connect(database) as connection:
        query = "SELECT step, value FROM metrics WHERE key = ? AND run_uuid LIKE ? ORDER BY step"
        return connection.execute(query, (key, run_id or "%")).fetchall()


def _run_ids(database):
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT run_uuid FROM runs ORDER BY start_time").fetchall()
    return [run_id for (run_id,) in rows]


def _params(database):
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT run_uuid, key, value FROM params").fetchall()
    params: dict[str, dict[str, str]] = {}
    for run_id, key, value in rows:
        params.setdefault(run_id, {})[key] = value
    return params


def test_overrides_change_what_trains(invoke, tmp_path):
    """rollouts 8 (logged every 8 timesteps, not 32) and episodes cut at 10 steps."""
    result = invoke(
        "train", "--task", "CartPole-v1", "--num-envs", "2", "--timesteps", "48",
        "agent.agent.rollouts=8", "env.max_episode_steps=10",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    database = tmp_path / "mlflow.db"
    assert [step for step, _ in _steps(database, "policy_loss")] == [8, 16, 24, 32, 40, 48]
    lengths = [value for _, value in _steps(database, "episode_length_max")]
    assert lengths
    assert max(lengths) <= 10  # CartPole's own limit is 500; a random policy lasts ~20
    with sqlite3.connect(database) as connection:
        params = dict(connection.execute("SELECT key, value FROM params").fetchall())
    assert [v for k, v in params.items() if k.endswith("rollouts")] == ["8"]


def test_print_config_shows_the_overrides_applied_and_makes_nothing(invoke, tmp_path):
    result = invoke(
        "train", "--task", "CartPole-v1", "--print-config",
        "agent.agent.learning_rate=1e-4", "env.max_episode_steps=50",
        "env.sutton_barto_reward=true",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    document = yaml.safe_load(result.stdout)
    assert document["agent"]["agent"]["learning_rate"] == pytest.approx(1e-4)
    assert document["env"]["max_episode_steps"] == 50
    assert document["env"]["sutton_barto_reward"] is True
    assert document["agent"]["trainer"]["timesteps"] > 0  # what would train, resolved
    assert not (tmp_path / "mlflow.db").exists()
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("agent.agent.rolouts=8", "the closest: agent.agent.rollouts"),
        ("agent.agent.rollouts=thirtytwo", "expected an int for agent.agent.rollouts (it is 32"),
        ("agent.trainer.timestep=10", "the closest: agent.trainer.timesteps"),
        ("env.max_episod_steps=3", "the closest: env.max_episode_steps"),
        ("env.max_episode_steps=long", "expected an int for env.max_episode_steps"),
        ("scene.num_envs=4", "expected a key under agent."),
        ("agent.agent.rollouts", "Hydra's override grammar"),
        ("+agent.agent.rollouts=4", "a key not in the config yet (agent.agent.rollouts is)"),
    ],
)
def test_a_bad_override_is_one_line_naming_it(invoke, error_line, tmp_path, override, expected):
    result = invoke("train", "--task", "CartPole-v1", override)

    assert result.exit_code == 2, result.output
    line = error_line(result)
    assert f"invalid value for KEY=VALUE: {override!r}" in line
    assert expected in line
    assert not (tmp_path / "mlflow.db").exists()
    assert not (tmp_path / "runs").exists()


PROBE = """
import sys
sys.argv = ["pat", *sys.argv[1:]]
from pat_cli.app import main
try:
    main()
finally:
    heavy = ("torch", "skrl", "gymnasium", "mlflow")
    print("loaded:", sorted(m for m in heavy if m in sys.modules), "omegaconf" in sys.modules)
"""


def test_an_agent_skrl_cannot_build_is_one_line_naming_the_config(invoke, error_line, tmp_path):
    # a string where a string goes passes the config check; skrl's Runner refuses the class
    result = invoke(
        "train", "--task", "CartPole-v1", "--num-envs", "2", "--timesteps", "8",
        "agent.models.policy.class=Nope",
    )  # fmt: skip

    assert result.exit_code == 2, result.output
    line = error_line(result)
    assert "skrl could not build the agent from pat's cartpole_v1_ppo.yaml" in line
    assert "Unknown class: Nope" in line
    assert not list(tmp_path.glob("runs/**/*.pt"))  # nothing trained


def test_a_bad_agent_override_fails_before_torch_is_imported(tmp_path):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = subprocess.run(
        [sys.executable, "-c", PROBE, "train", "--task", "CartPole-v1", "agent.agent.rolouts=8",
         "--tracking-uri", store],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip

    assert result.returncode == 2, result.stdout + result.stderr
    assert "agent.agent.rolouts" in result.stderr
    assert "loaded: [] True" in result.stdout  # omegaconf applied it; no heavy library


def test_train_help_shows_an_override_example():
    result = subprocess.run(
        [sys.executable, "-m", "pat_cli", "train", "--help"],
        capture_output=True, text=True, check=True, env={"COLUMNS": "80", "PATH": ""},
    )  # fmt: skip
    text = " ".join(result.stdout.split())
    assert "[KEY=VALUE]..." in text
    assert "agent.agent.learning_rate=1e-4" in text
    assert "--print-config" in text
    assert "Example: pat train --from-run RUN_ID agent.agent.learning_rate=3e-4" in text
    assert "Example: pat train --task Isaac-Cartpole --nproc-per-node 2" in text


@pytest.mark.isaaclab
def test_isaac_lab_env_overrides_reach_its_env_config(tmp_path):
    """env.scene.num_envs is --num-envs; env.episode_length_s shortens episodes (time_out)."""
    pytest.importorskip("isaaclab")
    command = [sys.executable, "-m", "pat_cli", "train", "--task", "Isaac-Cartpole-v0"]
    shown = subprocess.run(
        [*command, "env.scene.num_envs=8", "env.episode_length_s=0.5", "--print-config"],
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stdout + shown.stderr
    env = yaml.safe_load(shown.stdout)["env"]
    assert (env["num_envs"], env["scene"]["num_envs"], env["episode_length_s"]) == (8, 8, 0.5)

    typo = subprocess.run(
        [*command, "env.scene.num_env=8"],
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert typo.returncode == 2, typo.stdout + typo.stderr
    assert "the closest: num_envs" in typo.stderr

    trained = subprocess.run(
        [*command, "--timesteps", "64", "--log-interval", "32", "env.scene.num_envs=8",
         "env.episode_length_s=0.5"],
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert "8 envs x 64 timesteps" in " ".join(trained.stdout.split())
    timeouts = [v for _, v in _steps(tmp_path / "mlflow.db", "Episode_Termination/time_out")]
    assert timeouts
    assert max(timeouts) > 0  # 0.5 s episodes (30 steps) end by time within 64 steps

    source = _run_ids(tmp_path / "mlflow.db")[-1]
    again = subprocess.run(
        [sys.executable, "-m", "pat_cli", "train", "--from-run", source],
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    copy = _run_ids(tmp_path / "mlflow.db")[-1]
    params = _params(tmp_path / "mlflow.db")
    assert copy != source
    assert params[copy] == params[source]  # the same task, options, agent config, overrides
    assert params[copy]["env_overrides"] == "env.scene.num_envs=8 env.episode_length_s=0.5"
    replayed = [v for _, v in _steps(tmp_path / "mlflow.db", "Episode_Termination/time_out", copy)]
    assert max(replayed) > 0  # the recorded 0.5 s episodes, not the task's 5 s
