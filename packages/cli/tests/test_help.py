"""`pat --help` is written from the lazy command table: it must list every command, say what
each does exactly as the command's own help does, and behave like Typer's help otherwise."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

from pat_cli.app import PatGroup, app


def _run_pat(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "pat"), *args],  # the console script
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "COLUMNS": "100"},
    )


def test_each_summary_is_the_first_paragraph_of_the_commands_own_help() -> None:
    for spec in PatGroup.lazy_commands:
        command = spec.load()
        assert command.name == spec.name
        first_paragraph = inspect.cleandoc(command.help or "").split("\n\n")[0]
        assert " ".join(first_paragraph.split()) == spec.summary, spec.name


def test_help_lists_every_command_with_its_summary() -> None:
    result = _run_pat("--help")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: pat [OPTIONS] COMMAND [ARGS]...")
    text = " ".join(result.stdout.split())  # summaries are wrapped over lines
    for spec in PatGroup.lazy_commands:
        assert f" {spec.name} {spec.summary}" in text, spec.name
    assert "--version" in text
    assert "-h, --help" in text
    assert "Run `pat COMMAND --help` for the options of a command." in text


def test_bare_pat_prints_the_help_and_exits_2() -> None:
    result = _run_pat()

    assert result.returncode == 2
    assert result.stdout == _run_pat("--help").stdout


def test_subcommand_help_is_still_typers_rich_help() -> None:
    result = _run_pat("inspect", "-h")

    assert result.returncode == 0, result.stderr
    assert "Usage: pat inspect [OPTIONS] COMMAND [ARGS]..." in result.stdout
    assert "\u256d\u2500 Commands" in result.stdout  # Rich's panel
    assert "metrics" in result.stdout


def test_a_mistyped_command_is_a_usage_error_with_a_suggestion() -> None:
    result = _run_pat("trian")

    assert result.returncode == 2
    assert "No such command 'trian'. Did you mean 'train'?" in result.stderr


def test_commands_load_on_first_lookup_only() -> None:
    from typer.main import get_command

    group = get_command(app)
    commands = group.commands  # type: ignore[attr-defined]
    assert list(commands) == [spec.name for spec in PatGroup.lazy_commands]
    assert commands["tasks"].name == "tasks"
    assert commands["tasks"] is commands["tasks"]  # loaded once
