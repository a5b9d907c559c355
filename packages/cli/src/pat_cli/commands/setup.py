"""``pat setup``: install optional parts of the stack into the running environment."""

import json
import subprocess
from typing import Annotated

import typer

from pat_cli._console import console, err_console
from pat_cli._errors import DOMAIN_ERROR, fail
from pat_cli._help import PLAIN, PlainCommand, PlainGroup
from pat_cli._options import JsonOutput

app = typer.Typer(
    name="setup",
    help="Install optional parts of the stack (Isaac Lab) into this Python environment.",
    epilog="Example: pat setup isaaclab --dry-run",
    no_args_is_help=True,
    cls=PlainGroup,
    **PLAIN,
)


@app.command("isaaclab", cls=PlainCommand)
def isaaclab(
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print the install commands; run nothing."),
    ] = False,
    check: Annotated[
        bool,
        typer.Option("--check", help="Report what is installed (exit 1 if something is missing)."),
    ] = False,
    json_output: JsonOutput = False,
) -> None:
    """Install Isaac Lab 3.0 for kitless use (Newton physics, CPU or GPU; no Isaac Sim).

    Installs the runtime it needs, then isaaclab itself without its declared requirements
    (Isaac Sim importers, teleoperation, its torch pin); the installed torch is kept.
    Versions come from the isaaclab extra of pat-env-metrics.

    Example: pat setup isaaclab --dry-run
    """
    from pat_env_metrics.kitless import install_isaaclab, isaaclab_status

    if check:
        statuses = isaaclab_status()
        if json_output:
            rows = [
                {"requirement": s.requirement, "installed": s.installed, "ok": s.ok}
                for s in statuses
            ]
            console.print_json(json.dumps(rows))
        else:
            for s in statuses:
                mark = "[green]ok[/]" if s.ok else "[red]missing[/]"
                if s.installed is not None and not s.ok:
                    mark = "[red]wrong version[/]"
                console.print(f"{s.requirement:32} {s.installed or '-':12} {mark}", highlight=False)
        if not all(s.ok for s in statuses):
            if not json_output:
                err_console.print("Install with: pat setup isaaclab", highlight=False)
            raise typer.Exit(DOMAIN_ERROR)
        return

    def echo(line: str) -> None:
        console.print(line, highlight=False, markup=False, soft_wrap=True)

    try:
        install_isaaclab(dry_run=dry_run, echo=echo)
    except subprocess.CalledProcessError as exc:
        fail(
            f"the install command failed with exit status {exc.returncode}.",
            hint="run it by hand (pat setup isaaclab --dry-run prints it) to see why.",
            code=DOMAIN_ERROR,
        )
    except FileNotFoundError as exc:
        fail(f"cannot run the installer: {exc}.", hint="install uv, or pip.", code=DOMAIN_ERROR)
