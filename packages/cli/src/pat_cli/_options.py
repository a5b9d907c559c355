"""Options shared by several commands, declared once so their names and help never drift."""

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
