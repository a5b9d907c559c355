"""`pat --help` is written from the lazy command table: it must list every command, say what
each does exactly as the command's own help does, and behave like Typer's help otherwise."""

from __future__ import annotations

import inspect
import itertools
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pat_cli.app import PatGroup, app


def _run_pat(*args: str, columns: int = 100) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "pat"), *args],  # the console script
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "COLUMNS": str(columns)},
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


COMMANDS = (
    (),
    ("train",),
    ("tasks",),
    ("sync",),
    ("inspect",),
    ("inspect", "metrics"),
    ("inspect", "tracking-data"),
    ("runs",),
    ("compare",),
    ("eval",),
    ("dry-run",),
    ("dry-run", "filter"),
    ("setup",),
    ("setup", "isaaclab"),
)
WIDTH = 80


def _help_at_80_columns(command: tuple[str, ...]) -> str:
    result = _run_pat(*command, "--help", columns=WIDTH)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "pat")
def test_every_help_has_one_plain_style_bare_flags_and_an_example(command) -> None:
    text = _help_at_80_columns(command)
    lines = text.splitlines()

    assert lines[0].startswith(f"Usage: {' '.join(('pat', *command))} [OPTIONS]")
    assert not set("\u256d\u2502\u2570") & set(text), text  # no Rich panels
    assert "<bool>" not in text
    assert "BOOLEAN" not in text
    assert "-h, --help  " in text  # a flag is shown bare, as --help is
    assert all(len(line) <= WIDTH for line in lines), text
    examples = [i for i, line in enumerate(lines) if line.strip().startswith("Example: pat ")]
    assert examples, text
    for i in examples:  # the example command fits on its line, it is not wrapped
        assert i + 1 == len(lines) or not lines[i + 1].strip(), text
    for line in lines:  # wrapped at spaces, never inside a word such as pat-env-metrics
        assert not re.search(r"\w-$", line), line


def _paragraphs(text: str) -> list[list[str]]:
    """The paragraphs of a help's description (between the usage line and the first section)."""
    description = (
        text.split("\n\n", 1)[1]
        .split("\n\nOptions:", maxsplit=1)[0]
        .split("\n\nArguments:", maxsplit=1)[0]
    )
    return [block.splitlines() for block in description.split("\n\n")]


@pytest.mark.parametrize(
    "command", [("train",), ("setup", "isaaclab"), ("inspect", "tracking-data")]
)
def test_description_lines_are_filled_to_the_width_not_broken_mid_sentence(command) -> None:
    for paragraph in _paragraphs(_help_at_80_columns(command)):
        for line, following in itertools.pairwise(paragraph):
            # the next line's first word did not fit (click fills to 2 columns short of the
            # width): the break is the wrapper's, not one kept from the docstring
            assert len(line) + 1 + len(following.split()[0]) > WIDTH - 2, (line, following)


def test_option_help_is_wrapped_at_word_boundaries() -> None:
    text = _help_at_80_columns(("train",))
    row = text[text.index("  --offline-ok") : text.index("  -q, --quiet")]

    assert re.match(r"  --offline-ok {8,}Train even if", row.splitlines()[0]), row
    assert " ".join(row.split()) == (
        "--offline-ok Train even if the MLflow store is unreachable: metrics wait in the run's "
        "spool and `pat sync` creates the run and delivers them."
    )
    assert re.search(r"--system-metrics {8,}Also log", text)  # no value after the flag
    assert "--metric-filter <pattern>" in text  # a repeatable option names what it takes


@pytest.mark.parametrize("group", ["inspect", "dry-run", "setup"])
def test_a_bare_group_prints_its_help_with_whole_summaries_and_exits_2(group) -> None:
    result = _run_pat(group)

    assert result.returncode == 2
    assert result.stdout == _run_pat(group, "--help").stdout
    assert "..." not in result.stdout.split("Commands:")[1]  # summaries are not cut short


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
