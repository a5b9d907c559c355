"""Options shared by several commands, declared once so their names and help never drift."""

from pathlib import Path
from typing import Annotated

import typer

TrackingUri = Annotated[
    str | None,
    typer.Option(
        "--tracking-uri",
        help="MLflow store to use. Default: MLFLOW_TRACKING_URI, else MLflow's default "
        "(sqlite:///mlflow.db in the current directory).",
        show_default=False,
    ),
]
Experiment = Annotated[
    str | None,
    typer.Option(
        "--experiment",
        help="MLflow experiment name. Default: MLFLOW_EXPERIMENT_NAME / MLFLOW_EXPERIMENT_ID.",
        show_default=False,
    ),
]
JsonOutput = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")
]
Algorithm = Annotated[
    str | None,
    typer.Option(
        "--algorithm",
        help="Agent algorithm (case-insensitive), e.g. ppo, sac. Default: the task's own.",
        show_default=False,
    ),
]
AgentCfg = Annotated[
    Path | None,
    typer.Option(
        "--agent-cfg",
        help="A skrl runner config YAML (as Isaac Lab ships them) instead of the task's.",
        show_default=False,
    ),
]
Seed = Annotated[
    int | None,
    typer.Option(
        "--seed", help="Seed of the agent and the env. Default: the config's.", show_default=False
    ),
]
Device = Annotated[
    str | None,
    typer.Option(
        "--device",
        help="cpu, cuda or cuda:N. Default: cuda when there is a GPU.",
        show_default=False,
    ),
]
MetricFilter = Annotated[
    list[str] | None,
    typer.Option(
        "--metric-filter",
        help="Log only metrics matching this name, glob or re:<regex> (repeatable). "
        "Check patterns first with `pat dry-run filter`.",
        show_default=False,
    ),
]
MetricFilterFile = Annotated[
    Path | None,
    typer.Option(
        "--metric-filter-file",
        help="A file of --metric-filter patterns, one per line (# comments).",
        show_default=False,
    ),
]
Exclude = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude",
        help="Never log metrics matching this pattern (repeatable); wins over includes.",
        show_default=False,
    ),
]
