"""``pat tasks``: what ``pat train`` can run here, and why the rest cannot."""

import json
from typing import Annotated, Any

import typer

from pat_cli._console import console
from pat_cli._options import JsonOutput


def tasks(
    *,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Also check each Isaac Lab task's config (Kit needed? assets reachable?); ~20 s.",
        ),
    ] = False,
    json_output: JsonOutput = False,
) -> None:
    """List the gymnasium tasks pat ships agent configs for and the Isaac Lab tasks.

    Example: pat tasks --check
    """
    from pat_cli._catalog import SETUP_COMMAND, isaac_rows, isaaclab_installed
    from pat_cli.tasks import GYM_TASKS

    gym: list[dict[str, Any]] = [
        {
            "task": t.id,
            "framework": "gymnasium",
            "algorithms": list(t.configs),
            "default_algorithm": t.default_algorithm,
            "num_envs": t.num_envs,
            "runs_here": not t.missing(),
            "reason": "; ".join(f"needs {m}: {cmd}" for m, cmd in t.missing()),
            "about": t.summary,
        }
        for t in GYM_TASKS.values()
    ]
    installed = isaaclab_installed()
    isaac: list[dict[str, Any]] = []
    if installed:
        isaac = [
            {
                "task": row.id,
                "framework": f"Isaac Lab {row.workflow}",
                "algorithms": list(row.algorithms),
                "default_algorithm": row.algorithms[0],
                "num_envs": None,
                "runs_here": row.runs_here,
                "reason": row.reason,
                "about": "",
            }
            for row in isaac_rows(check=check)
        ]
    isaac_note = (
        "Isaac Lab 2.x ids (Isaac-Cartpole-v0) are accepted and mapped to the 3.0 ids."
        if installed
        else "Isaac Lab is not installed: install it (kitless, no Isaac Sim) with "
        f"`{SETUP_COMMAND}`."
    )
    if json_output:
        typer.echo(
            json.dumps(
                {"tasks": gym + isaac, "isaaclab_installed": installed, "note": isaac_note},
                indent=2,
            )
        )
        return
    from pat_cli.commands._tasks_table import tasks_table

    console.print(tasks_table(gym + isaac, checked=check))
    if installed:
        console.print(isaac_note, highlight=False)
    else:  # the command on a line of its own, so that it is never wrapped
        console.print(
            f"Isaac Lab is not installed; to install it (kitless, no Isaac Sim) run:\n"
            f"  {SETUP_COMMAND}",
            highlight=False,
        )
