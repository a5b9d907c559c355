"""`pat train` rejects bad input with one line naming the option, the value and what is
accepted (exit 2), before any env or MLflow run is created."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--log-interval", "0"],
            "invalid value for --log-interval: '0'; expected 'step' (every timestep), "
            "'balanced' (every 10 timesteps), 'rollout' (once per rollout) or a positive whole "
            "number",
        ),
        (["--log-interval", "fast"], "invalid value for --log-interval: 'fast'; expected 'step'"),
        (["--log-interval", "-3"], "invalid value for --log-interval: '-3'; expected 'step'"),
        (["--log-interval", "2.5"], "invalid value for --log-interval: '2.5'; expected 'step'"),
        (["--num-envs", "-4"], "invalid value for --num-envs: '-4'; expected a whole number >= 1"),
        (["--num-envs", "0"], "invalid value for --num-envs: '0'; expected a whole number >= 1"),
        (["--num-envs=abc"], "invalid value for --num-envs: 'abc'; expected a whole number >= 1"),
        (["--timesteps", "0"], "invalid value for --timesteps: '0'; expected a whole number >= 1"),
        (
            ["--timesteps", "1e3"],
            "invalid value for --timesteps: '1e3'; expected a whole number >= 1, such as 1000 "
            "(write 1000)",
        ),
        (["--max-iterations", "2.5"], "invalid value for --max-iterations: '2.5'; expected a"),
        (["--seed", "-1"], "invalid value for --seed: '-1'; expected a whole number >= 0"),
        (
            ["--metric-filter", "re:(unclosed"],
            "invalid value for --metric-filter: 're:(unclosed'; expected a name, a glob or "
            "re:<regex> (invalid regular expression",
        ),
        (["--exclude", "re:*bad"], "invalid value for --exclude: 're:*bad'"),
        (["--device", "tpu"], "invalid value for --device: 'tpu'; expected cpu, cuda or cuda:N"),
        (["--algorithm", "td3"], "invalid value for --algorithm: 'td3'; expected one of ppo"),
        (
            ["--timesteps", "10", "--max-iterations", "2"],
            "--timesteps and --max-iterations both given",
        ),
        (
            ["--checkpoint", "missing/agent_100.pt"],
            "invalid value for --checkpoint: 'missing/agent_100.pt'; expected an existing",
        ),
        (
            ["--metric-filter-file", "no-such-file.txt"],
            "invalid value for --metric-filter-file: 'no-such-file.txt'; expected a readable",
        ),
    ],
)
def test_bad_value_is_one_line_naming_option_value_and_accepted(invoke, error_line, args, expected):
    result = invoke("train", "--task", "CartPole-v1", *args)

    assert result.exit_code == 2, result.output
    assert expected in error_line(result)


def test_unknown_task_names_close_matches(invoke, error_line, tmp_path):
    result = invoke("train", "--task", "CartPol-v1")

    assert result.exit_code == 2
    line = error_line(result)
    assert "invalid value for --task: 'CartPol-v1'" in line
    assert "Did you mean 'CartPole-v1'" in line
    assert line.count("'CartPole-v1'") == 1
    assert not (tmp_path / "mlflow.db").exists()  # the store is opened once the input is valid


def test_gymnasium_task_without_shipped_config_asks_for_agent_cfg(invoke, error_line):
    result = invoke("train", "--task", "Acrobot-v1")

    assert result.exit_code == 2
    assert "for Acrobot-v1 pass a skrl runner YAML with --agent-cfg" in error_line(result)


def test_missing_task_is_a_usage_error(invoke, error_line):
    result = invoke("train")

    assert result.exit_code == 2
    assert "missing option --task" in error_line(result)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("agent: [unclosed\n", "expected a readable skrl runner YAML file"),
        ("- just\n- a list\n", "expected a YAML mapping with models, agent and trainer"),
        ("agent: {class: PPO}\n", "it lacks the section(s) models, trainer"),
        (b"\xff\xfe\x00bad", "expected a readable skrl runner YAML file"),
    ],
)
def test_unreadable_agent_yaml_is_a_usage_error(invoke, error_line, tmp_path, content, expected):
    path = tmp_path / "agent.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)

    result = invoke("train", "--task", "CartPole-v1", "--agent-cfg", str(path))

    assert result.exit_code == 2
    line = error_line(result)
    assert f"invalid value for --agent-cfg: '{path}'" in line
    assert expected in line


def test_algorithm_must_match_the_agent_cfg(invoke, error_line, tmp_path):
    from pat_cli.tasks import read_text

    path = tmp_path / "ppo.yaml"
    path.write_text(read_text("cartpole_v1_ppo.yaml"))

    result = invoke(
        "train", "--task", "CartPole-v1", "--agent-cfg", str(path), "--algorithm", "SAC"
    )

    assert result.exit_code == 2
    assert "invalid value for --algorithm: 'SAC'; expected ppo (the agent class" in error_line(
        result
    )


@pytest.mark.parametrize(
    "case",
    [
        ("agent", "rollouts", "thirtytwo", "agent.rollouts as a whole number; it is 'thirtytwo'"),
        ("agent", "learning_rate", "1e-3", "agent.learning_rate as a number (YAML reads 1e-3"),
        (
            "trainer",
            "timestep",
            64,
            "skrl has no field trainer.timestep. Did you mean trainer.timesteps?",
        ),
        ("agent", "rolouts", 16, "no field agent.rolouts. Did you mean agent.rollouts?"),
        ("agent", "mini_batches", True, "agent.mini_batches as a whole number; it is True"),
    ],
)
def test_agent_cfg_fields_are_checked_against_skrl(invoke, error_line, tmp_path, case):
    import yaml

    from pat_cli.tasks import read_text

    section, field, value, expected = case
    cfg = yaml.safe_load(read_text("cartpole_v1_ppo.yaml"))
    cfg[section][field] = value
    path = tmp_path / "ppo.yaml"
    path.write_text(yaml.safe_dump(cfg))

    result = invoke("train", "--task", "CartPole-v1", "--agent-cfg", str(path))

    assert result.exit_code == 2
    line = error_line(result)
    assert f"invalid value for --agent-cfg: '{path}'" in line
    assert expected in line


def test_every_shipped_agent_config_passes_the_field_check():
    import yaml

    from pat_cli._agent_fields import check_agent_fields
    from pat_cli.tasks import GYM_TASKS, read_text

    names = {name for task in GYM_TASKS.values() for name in task.configs.values()}
    assert len(names) >= 4
    for name in sorted(names):
        check_agent_fields(yaml.safe_load(read_text(name)), "--agent-cfg", name)  # no exit


def test_empty_filter_file_would_drop_everything(invoke, error_line, tmp_path):
    patterns = tmp_path / "filters.txt"
    patterns.write_text("# only a comment\n\n")

    result = invoke("train", "--task", "CartPole-v1", "--metric-filter-file", str(patterns))

    assert result.exit_code == 2
    assert "an empty filter would drop every metric" in error_line(result)


def test_max_iterations_needs_an_on_policy_agent(invoke, error_line):
    result = invoke("train", "--task", "Pendulum-v1", "--algorithm", "sac", "--max-iterations", "3")

    assert result.exit_code == 2
    assert "invalid value for --max-iterations: 3; expected an on-policy agent" in error_line(
        result
    )


def test_unreachable_store_is_a_domain_error_before_any_env(invoke, error_line):
    result = invoke(
        "train",
        "--task",
        "CartPole-v1",
        "--tracking-uri",
        "http://127.0.0.1:9",
        env={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"},
    )

    assert result.exit_code == 1
    assert "cannot use the MLflow store http://127.0.0.1:9" in error_line(result)


@pytest.mark.isaaclab
def test_unknown_isaac_lab_task_names_close_matches(invoke, error_line):
    pytest.importorskip("isaaclab_tasks")

    result = invoke("train", "--task", "Isaac-Cartpol-v0")

    assert result.exit_code == 2, result.output
    line = error_line(result)
    assert "invalid value for --task: 'Isaac-Cartpol-v0'; no Isaac Lab task has this id" in line
    assert "'Isaac-Cartpole'" in line


def test_a_sqlite_store_in_a_missing_directory_is_refused_and_nothing_is_made(
    invoke, error_line, tmp_path
):
    """Issue 18 item 3: sqlite:////nonexistent/dir/m.db silently created the directory tree."""
    missing = tmp_path / "no" / "such" / "dir"
    result = invoke("train", "--task", "CartPole-v1", "--tracking-uri", f"sqlite:///{missing}/m.db")
    assert result.exit_code == 1, result.output
    assert f"directory {missing} does not exist" in error_line(result)
    assert not (tmp_path / "no").exists()
    assert not list(tmp_path.rglob("runs"))


def test_a_run_that_cannot_fit_in_memory_is_refused_before_anything_is_made(
    invoke, error_line, tmp_path
):
    from pat_cli._memory_estimate import available_bytes

    result = invoke("train", "--task", "CartPole-v1", "--num-envs", "100000000")

    assert result.exit_code == 2
    line = error_line(result)
    assert "invalid value for --num-envs: 100000000; expected at most" in line
    need = float(line.split("need at least ")[1].split(" GB")[0].replace(",", ""))
    available = float(line.split("), and ")[1].split(" GB")[0].replace(",", ""))
    assert need > available == pytest.approx(available_bytes() / 1e9, rel=0.2)
    assert not (tmp_path / "mlflow.db").exists()
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(("task", "algorithm"), [("CartPole-v1", "ppo"), ("Pendulum-v1", "sac")])
def test_the_memory_estimate_is_what_skrl_allocates(task, algorithm):
    """The estimate of skrl's buffer per env equals what skrl's memory really holds."""
    from skrl.utils.runner.torch import Runner

    from pat_cli._memory_estimate import GYM_ENV_BYTES, estimate
    from pat_cli._setup import finish_cfg, prepare
    from pat_cli._train_env import EnvSpec, make_env

    ready = prepare(task, algorithm, None, 4, "cpu")
    env = make_env(EnvSpec(ready.choice, 4, "cpu", 1, ready.env_metrics))
    try:
        runner = Runner(env, finish_cfg(ready.cfg, ready.choice, 100, 1))
        tensors = runner.agent.memory.tensors.values()
        per_env = sum(t.element_size() * t.numel() for t in tensors) / 4
    finally:
        env.close()
    estimated = estimate(ready.choice, ready.cfg).per_env - GYM_ENV_BYTES
    assert 0.9 * per_env <= estimated <= per_env
