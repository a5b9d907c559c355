"""Options shared by several commands, declared once so their names and help never drift."""

from pathlib import Path
from typing import Annotated, Any

import typer


class WholeNumber:
    """The ``parser`` of an option that takes a whole number of at least ``minimum``.

    Typer's own ``int`` parsing answers ``--timesteps 1e3`` with "unable to parse string as
    an integer" (the value not named), and lets ``--seed -1`` through to a library's
    traceback; this fails with pat's one line naming the option, the value and what is
    accepted (exit 2).
    """

    def __init__(self, option: str, minimum: int, example: int) -> None:
        self.option = option
        self.minimum = minimum
        self.accepted = f"a whole number >= {minimum}, such as {example}"
        self.__name__ = "integer"  # Typer names the parameter's type after its parser

    def __call__(self, value: Any) -> int:
        from pat_cli._errors import bad_option

        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip()
            try:
                number = int(text)
            except ValueError:
                bad_option(self.option, value, self._hint(text))
        if number < self.minimum:
            bad_option(self.option, value, self.accepted)
        return number

    def _hint(self, text: str) -> str:
        try:  # 1e3 is a whole number written as a float: say how to write it
            as_float = float(text)
        except ValueError:
            return self.accepted
        if as_float.is_integer() and abs(as_float) < 1e18:
            return f"{self.accepted} (write {int(as_float)})"
        return self.accepted


SEED = WholeNumber("--seed", 0, 42)

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
        "--seed",
        help="Seed of the agent and the env (>= 0). Default: the config's.",
        show_default=False,
        parser=SEED,
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
        metavar="<pattern>",
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
        metavar="<pattern>",
        help="Never log metrics matching this pattern (repeatable); wins over includes.",
        show_default=False,
    ),
]

KeyGlobs = Annotated[
    list[str] | None,
    typer.Option(
        "--key",
        "-k",
        metavar="<pattern>",
        help="Only keys matching this pattern (repeatable): a key, a glob such as "
        "'episode_*', or re:<regex>, as in --metric-filter.",
        show_default=False,
    ),
]
"""``--key`` of the commands that read a run's metrics (pat-core's pattern language)."""
