"""Check ``pat train``'s options and turn them into a :class:`TrainPlan`, before anything heavy.

Every bad value ends the command with a one-line usage error (exit 2) that names the option,
the value and what is accepted.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pat_cli._errors import bad_option, fail

if TYPE_CHECKING:
    from pat_cli._catalog import TaskChoice
    from pat_core import LogInterval

_DEVICE = re.compile(r"cpu|cuda(:\d+)?")
REQUIRED_SECTIONS = ("models", "agent", "trainer")


@dataclass
class TrainPlan:
    """Everything ``pat train`` will do, validated."""

    task: TaskChoice
    agent_cfg: dict[str, Any]
    agent_cfg_source: str
    algorithm: str
    num_envs: int
    timesteps: int
    seed: int | None
    device: str
    log_interval: LogInterval
    include: tuple[str, ...] | None
    exclude: tuple[str, ...]
    tracking_uri: str
    experiment: str | None
    run_name: str | None
    system_metrics: bool
    checkpoint: Path | None
    env_metrics: dict[str, Any] = field(default_factory=dict)
    offline_ok: bool = False
    """Train although the store is unreachable (metrics spooled for ``pat sync``)."""
    output: str = "rich"
    """``rich`` (banner, progress, summary table), ``quiet`` (errors and warnings only) or
    ``json`` (one JSON object on stdout at the end)."""
    resume: bool = False
    """Continue the checkpoint's own run (``--resume``); else a new run tagged with it."""
    checkpoint_run: str | None = None
    """The run of a ``runs:/<id>/...`` checkpoint."""
    log_model: bool = False
    """Log the trained policy as an MLflow model of the run at the end."""
    register_model: str | None = None
    """Register that model under this name."""
    source_run: str | None = None
    """``--from-run``: the run whose record this training reproduces."""
    env_overrides: tuple[Any, ...] = ()
    """The ``env.`` overrides (``pat_cli._overrides.Override``) the env is created with."""


def parse_interval(value: str) -> LogInterval:
    """``--log-interval`` through pat-core's parser."""
    from pat_core import ACCEPTED_INTERVALS, parse_log_interval

    try:
        return parse_log_interval(value)
    except ValueError:
        bad_option("--log-interval", value, ACCEPTED_INTERVALS)


def positive(option: str, value: int | None) -> int | None:
    """A whole number >= 1 (``None`` passes: the option was not given)."""
    if value is not None and value < 1:
        bad_option(option, value, "a positive whole number")
    return value


def store_location(uri: str) -> None:
    """Check a sqlite store before anything is made: its directory exists, it is writable.

    pat does not create a directory tree a typo named. One line, exit 1, in milliseconds --
    instead of MLflow's minutes of retries or a SQLAlchemy traceback, with a run directory
    left behind.
    """
    from pat_cli._errors import DOMAIN_ERROR
    from pat_skrl_mlflow import sqlite_path

    path = sqlite_path(uri)
    if path is None:
        return
    directory = path.parent
    why = None
    if directory.exists() and not directory.is_dir():
        why = f"{directory} is a file, not a directory"
    elif not directory.exists():
        why = f"directory {directory} does not exist (pat does not create it: a typo?)"
    elif path.exists() and not os.access(path, os.R_OK | os.W_OK):
        why = f"{path} is not writable"
    elif not path.exists() and not os.access(directory, os.W_OK | os.X_OK):
        why = f"cannot create {path.name} in {directory}: the directory is not writable"
    if why is not None:
        fail(
            f"cannot use the MLflow store {uri}: {why}",
            hint="fix --tracking-uri / MLFLOW_TRACKING_URI, or create the directory first.",
            code=DOMAIN_ERROR,
        )


def device(value: str | None) -> str:
    """``cpu``, ``cuda`` or ``cuda:N``; by default ``cuda`` when torch sees a GPU, else ``cpu``."""
    if value is None:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    if not _DEVICE.fullmatch(value):
        bad_option("--device", value, "cpu, cuda or cuda:N")
    if value.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            fail(
                f"--device {value!r} asked for a GPU, and torch sees none here.",
                hint="use --device cpu.",
                code=1,
            )
    return value


def filter_patterns(
    include: list[str] | None,
    include_file: Path | None,
    exclude: list[str] | None,
    *,
    include_name: str = "--metric-filter",
) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
    """Include patterns (options then file; ``None``: log everything) and exclude patterns.

    Each pattern is compiled on its own so the error names the option (or argument,
    ``include_name``) it came from.
    """
    from pat_core import MetricFilter, read_pattern_file

    patterns = list(include or [])
    if include_file is not None:
        try:
            patterns += read_pattern_file(include_file)
        except (OSError, UnicodeDecodeError) as error:
            bad_option(
                "--metric-filter-file", str(include_file), f"a readable text file ({_why(error)})"
            )
        if not patterns:
            bad_option(
                "--metric-filter-file",
                str(include_file),
                "a file with at least one pattern (an empty filter would drop every metric)",
            )
    for option, values, as_include in (
        (include_name, patterns, True),
        ("--exclude", list(exclude or []), False),
    ):
        for pattern in values:
            try:
                MetricFilter([pattern]) if as_include else MetricFilter(None, [pattern])
            except (ValueError, TypeError) as error:
                bad_option(option, pattern, f"a name, a glob or re:<regex> ({_why(error)})")
    return (tuple(patterns) or None), tuple(exclude or [])


def read_agent_yaml(path: Path, option: str = "--agent-cfg") -> dict[str, Any]:
    """A skrl runner config from YAML (needs ``models``, ``agent`` and ``trainer`` sections)."""
    import yaml  # type: ignore[import-untyped]

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        bad_option(option, str(path), f"a readable skrl runner YAML file ({_why(error)})")
    if not isinstance(data, dict):
        bad_option(option, str(path), "a YAML mapping with models, agent and trainer sections")
    missing = [s for s in REQUIRED_SECTIONS if not isinstance(data.get(s), dict)]
    if missing:
        bad_option(
            option, str(path), f"a skrl runner config; it lacks the section(s) {', '.join(missing)}"
        )
    if not isinstance(data["agent"].get("class"), str):
        bad_option(option, str(path), "a skrl runner config with agent.class (e.g. PPO)")
    return data


CHECKPOINT_FORMS = (
    "an existing skrl checkpoint file (runs/<task>/<run>/checkpoints/agent_1000.pt), latest or "
    "best "
    "(of the newest run of the task under ./runs), an MLflow artifact URI "
    "(runs:/<run id>/checkpoints/agent_1000.pt) or a policy pat logged as a model "
    "(models:/<name>/<version>, models:/<name>@<alias>)"
)
MODEL_FILE = "MLmodel"


def checkpoint(selector: str | None, task_id: str, tracking_uri: str) -> Path | None:
    """The checkpoint file ``--checkpoint`` names, downloaded when it is an MLflow artifact.

    ``latest``/``best``: the newest run directory of the task under ``./runs`` (skrl names them
    by start time), its last ``agent_<timestep>.pt`` or skrl's ``best_agent.pt``.
    """
    if selector is None:
        return None
    if selector in ("latest", "best"):
        return _newest_checkpoint(selector, task_id)
    if selector.startswith("runs:/"):
        return _downloaded(selector, tracking_uri)
    if selector.startswith("models:/"):
        return _model_checkpoint(selector, tracking_uri)
    if "://" in selector:
        bad_option("--checkpoint", selector, CHECKPOINT_FORMS)
    path = Path(selector)
    if not path.is_file():
        bad_option("--checkpoint", selector, CHECKPOINT_FORMS)
    return path


def _newest_checkpoint(selector: str, task_id: str) -> Path:
    runs = sorted(p for p in (Path("runs") / task_id).glob("*/checkpoints") if p.is_dir())
    for directory in reversed(runs):
        if selector == "best":
            found = [directory / "best_agent.pt"] if (directory / "best_agent.pt").is_file() else []
        else:
            found = sorted(directory.glob("agent_*.pt"), key=_checkpoint_step)
        if found:
            return found[-1]
    bad_option(
        "--checkpoint",
        selector,
        f"{CHECKPOINT_FORMS}; no {'best_agent.pt' if selector == 'best' else 'agent_*.pt'} "
        f"under runs/{task_id}/*/checkpoints here",
    )


def _checkpoint_step(path: Path) -> int:
    stem = path.stem.removeprefix("agent_")
    return int(stem) if stem.isdigit() else -1


def _downloaded(uri: str, tracking_uri: str, *, directory: bool = False) -> Path:
    """An MLflow artifact (a checkpoint pat logged, a model), downloaded to a temporary dir."""
    import tempfile

    from mlflow.artifacts import download_artifacts

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    destination = tempfile.mkdtemp(prefix="pat-checkpoint-")
    try:
        path = Path(download_artifacts(uri, dst_path=destination, tracking_uri=tracking_uri))
    except Exception as error:
        bad_option("--checkpoint", uri, f"{CHECKPOINT_FORMS} ({_why(error)})")
    if not directory and not path.is_file():
        bad_option("--checkpoint", uri, f"{CHECKPOINT_FORMS} (it names a directory)")
    return path


def _model_checkpoint(uri: str, tracking_uri: str) -> Path:
    """The skrl checkpoint a model ``pat_skrl_mlflow.log_policy`` logged carries.

    The model is downloaded whole (a policy's graph is small); its ``MLmodel`` names the
    checkpoint (metadata ``pat.checkpoint``) and the run (``run_id``).
    """
    import mlflow
    import yaml

    if not os.environ.get("MLFLOW_REGISTRY_URI"):
        mlflow.set_registry_uri(tracking_uri)  # else models:/ is looked up in MLflow's default
    directory = _downloaded(uri, tracking_uri, directory=True)
    try:
        model = yaml.safe_load((directory / MODEL_FILE).read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        bad_option("--checkpoint", uri, f"{CHECKPOINT_FORMS} ({_why(error)})")
    name = ((model.get("metadata") or {}).get("pat") or {}).get("checkpoint")
    path = directory / "extra_files" / str(name)
    if not name or not path.is_file():
        bad_option(
            "--checkpoint",
            uri,
            f"{CHECKPOINT_FORMS}; this model carries no skrl checkpoint (pat train "
            "--register-model and pat model log store one with the policy)",
        )
    return path


def checkpoint_run(selector: str | None, path: Path | None = None) -> str | None:
    """The run the weights came from: a ``runs:/<id>/...`` selector's, a ``models:/`` model's.

    ``path``: the checkpoint :func:`checkpoint` returned (a model's names its run).
    """
    if selector and selector.startswith("runs:/"):
        return selector.removeprefix("runs:/").split("/", 1)[0] or None
    if selector and selector.startswith("models:/") and path is not None:
        import yaml

        model = yaml.safe_load((path.parent.parent / MODEL_FILE).read_text()) or {}
        return str(model.get("run_id") or "") or None
    return None


def total_timesteps(cfg: dict[str, Any], timesteps: int | None, max_iterations: int | None) -> int:
    """``--timesteps``, else ``--max-iterations`` x the agent's rollouts, else the config's."""
    if timesteps is not None and max_iterations is not None:
        fail(
            "--timesteps and --max-iterations both given; expected one of them "
            "(an iteration is one rollout of the agent).",
        )
    if timesteps is not None:
        return timesteps
    if max_iterations is not None:
        rollouts = cfg["agent"].get("rollouts")
        if not isinstance(rollouts, int) or rollouts < 1:
            bad_option(
                "--max-iterations",
                max_iterations,
                f"an on-policy agent with rollouts; {cfg['agent']['class']} has none, "
                "use --timesteps",
            )
        return max_iterations * rollouts
    configured = cfg["trainer"].get("timesteps")
    if not isinstance(configured, int) or configured < 1:
        fail("the agent config has no trainer.timesteps; pass --timesteps N.")
    return configured


def _why(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return " ".join(text.split())[:200]
