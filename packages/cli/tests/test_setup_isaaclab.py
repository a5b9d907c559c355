"""`pat setup isaaclab`: prints or runs pat-env-metrics' installer, and reports what is there."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

from typer.testing import Result

Invoke = Callable[..., Result]


def test_dry_run_prints_the_runtime_install_then_isaaclab_without_dependencies(
    invoke: Invoke,
) -> None:
    result = invoke("setup", "isaaclab", "--dry-run")
    assert result.exit_code == 0, result.output
    commands = [line for line in result.output.splitlines() if line.startswith("$ ")]
    assert len(commands) == 2, result.output
    runtime, isaaclab = commands
    assert "warp-lang" in runtime
    assert "'newton[sim]" in runtime
    assert "torch" not in result.output
    assert "--no-deps" in isaaclab
    assert isaaclab.endswith("'isaaclab<3.1,>=3.0'")
    assert ("--python-version 3.12" in isaaclab or "--ignore-requires-python" in isaaclab) is (
        sys.version_info[:2] != (3, 12)
    )


def test_check_reports_every_requirement_and_fails_when_one_is_missing(invoke: Invoke) -> None:
    result = invoke("setup", "isaaclab", "--check", "--json")
    rows = json.loads(result.stdout)
    assert rows[0]["requirement"].startswith("isaaclab")
    assert {"warp-lang", "newton[sim]", "usd-core"} <= {
        row["requirement"].split("<")[0].split(">")[0] for row in rows
    }
    assert result.exit_code == (0 if all(row["ok"] for row in rows) else 1)


def test_setup_help_lists_the_isaaclab_verb(invoke: Invoke) -> None:
    result = invoke("setup", "--help")
    assert result.exit_code == 0, result.output
    assert "isaaclab" in result.output
