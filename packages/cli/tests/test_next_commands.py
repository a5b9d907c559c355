"""The commands `pat train` prints at its end run as printed (issue 18 item 1)."""

from __future__ import annotations

import shlex
import subprocess
import sys
from typing import TYPE_CHECKING

from pat_cli._train_summary import TrainOutcome, next_commands

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

    from conftest import Store


def _outcome(**fields: object) -> TrainOutcome:
    base: dict[str, object] = {
        "status": "FINISHED", "task": "CartPole-v1", "algorithm": "PPO", "device": "cpu",
        "num_envs": 4, "run_id": "ab" * 16, "experiment": "Default",
        "tracking_uri": "sqlite:////tmp/x/mlflow.db", "timesteps_done": 10,
        "timesteps_total": 10, "wall_seconds": 1.0,
    }  # fmt: skip
    return TrainOutcome(**{**base, **fields})  # type: ignore[arg-type]


def test_commands_carry_the_launcher_the_user_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UV", "/usr/bin/uv")
    monkeypatch.setenv("VIRTUAL_ENV", "/work/.venv")
    commands = next_commands(_outcome())
    assert commands[0].startswith("uv run pat inspect metrics ")
    assert any(c.startswith("uv run mlflow ui --backend-store-uri ") for c in commands)
    monkeypatch.delenv("UV")
    assert next_commands(_outcome())[0].startswith("pat inspect metrics ")


def test_an_offline_run_is_inspected_after_sync_not_by_its_placeholder_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("UV", raising=False)
    commands = next_commands(
        _outcome(run_id="offline-" + "cd" * 16, points_waiting=10, spool="runs/pat_spool")
    )
    assert commands[0].startswith("pat sync runs/pat_spool")
    assert not any("offline-" in c for c in commands)
    assert any(c.startswith("pat inspect metrics") for c in commands)


def test_a_masked_uri_is_printed_as_the_variable_that_holds_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("UV", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://alice:pw@h:5000")
    commands = next_commands(_outcome(tracking_uri="http://alice:***@h:5000"))
    assert commands[0].endswith('--tracking-uri "$MLFLOW_TRACKING_URI"')
    assert "pw" not in " ".join(commands)


def test_the_printed_inspect_command_runs_as_printed(store: Store, tmp_path: Path) -> None:
    run_id = store.log_run({"loss": [(1, 1.0), (2, 0.5)]})
    printed = next_commands(_outcome(run_id=run_id, tracking_uri=store.uri))
    (command,) = [c for c in printed if c.removeprefix("uv run ").startswith("pat inspect")]
    argv = shlex.split(command.removeprefix("uv run "))
    assert argv[:3] == ["pat", "inspect", "metrics"]
    done = subprocess.run(
        [sys.executable, "-m", "pat_cli", *argv[1:]], cwd=tmp_path, capture_output=True,
        text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert run_id in done.stdout
