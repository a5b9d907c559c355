"""``pat train --from-run RUN``: train again from a run's own record alone.

A run ``pat train`` made holds what reproduces it (``pat_cli._run_record``): the params of
the command (task, num_envs, seed, timesteps, device, log_interval), ``params/agent.yaml``
(the resolved skrl runner config), ``params/env.yaml`` (the env as created) and, of an Isaac
Lab task, the ``env.`` overrides it was given. This reads them back; options and overrides
given with ``--from-run`` go on top.

Imported only inside command bodies.
"""

from __future__ import annotations

import os
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pat_cli._errors import bad_option
from pat_cli._overrides import Override
from pat_cli._run_record import AGENT_ARTIFACT, ENV_ARTIFACT, ENV_OVERRIDES_PARAM

OPTION = "--from-run"
NO_PROGRESS_BAR = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
SOURCE_TAG = "pat.source_run"
"""On a run ``--from-run`` made: the run whose record it was trained from."""


@dataclass(frozen=True)
class RunRecord:
    """What a recorded run was trained with."""

    run_id: str
    task: str
    num_envs: int | None
    seed: int | None
    timesteps: int | None
    device: str | None
    log_interval: str | None
    agent_cfg: Path
    env_overrides: tuple[Override, ...]


def read_record(run_id: str, tracking_uri: str) -> RunRecord:
    """The record of ``run_id``; exit 2 for a run without one, 1 for an unreachable store."""
    import yaml  # type: ignore[import-untyped]

    from pat_cli._mlflow_store import open_client

    os.environ.setdefault(NO_PROGRESS_BAR, "false")  # MLflow's download bars: not a log line
    client = open_client(tracking_uri)
    try:
        params = client.get_run(run_id).data.params
    except Exception as error:
        bad_option(OPTION, run_id, f"a run of {tracking_uri} ({_first_line(error)})")
    if "task" not in params:
        bad_option(OPTION, run_id, "a run `pat train` recorded (it has no task param)")
    directory = Path(tempfile.mkdtemp(prefix="pat-from-run-"))
    try:
        agent = Path(client.download_artifacts(run_id, AGENT_ARTIFACT, str(directory)))
    except Exception as error:
        bad_option(OPTION, run_id, f"a run with {AGENT_ARTIFACT} ({_first_line(error)})")
    env: dict[str, Any] = {}
    try:
        env_path = client.download_artifacts(run_id, ENV_ARTIFACT, str(directory))
        env = yaml.safe_load(Path(env_path).read_text(encoding="utf-8")) or {}
    except Exception:  # an env pat could not describe: the task's own settings
        env = {}
    return RunRecord(
        run_id=run_id,
        task=params["task"],
        num_envs=_int(params.get("num_envs")),
        seed=_int(params.get("seed")),
        timesteps=_int(params.get("timesteps")),
        device=params.get("device") or None,
        log_interval=params.get("log_interval") or None,
        agent_cfg=agent,
        env_overrides=_gym_overrides(env) or _isaaclab_overrides(params),
    )


def _gym_overrides(env: dict[str, Any]) -> tuple[Override, ...]:
    """A gymnasium env's episode limit and ``gym.make`` keywords as ``env.`` overrides."""
    if "entry_point" not in env:
        return ()
    values = {"max_episode_steps": env.get("max_episode_steps"), **(env.get("kwargs") or {})}
    return tuple(
        Override(f"env.{key}={value!r} (from the run's {ENV_ARTIFACT})", "env", key, value)
        for key, value in values.items()
        if value is not None
    )


def _isaaclab_overrides(params: dict[str, str]) -> tuple[Override, ...]:
    """The ``env.`` overrides an Isaac Lab run was given.

    Its task's registered config is the rest, with the recorded ``num_envs`` and seed.
    """
    from pat_cli._overrides import parse

    recorded = params.get(ENV_OVERRIDES_PARAM)
    return tuple(parse(shlex.split(recorded))) if recorded else ()


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text not in (None, "", "None") else None
    except ValueError:
        return None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__


@dataclass(frozen=True)
class Given:
    """The options ``--from-run`` fills in where the command line left them out."""

    task: str | None
    agent_cfg: Path | None
    num_envs: int | None
    seed: int | None
    timesteps: int | None
    device: str | None
    log_interval: str | None
    overrides: tuple[Override, ...]


def fill_in(record: RunRecord, given: Given) -> Given:
    """``given`` with the record's values where it has none; its overrides after the record's."""
    if given.task is not None and given.task != record.task:
        bad_option("--task", given.task, f"{record.task}, the task of run {record.run_id}")
    if given.agent_cfg is not None:
        bad_option(
            "--agent-cfg", str(given.agent_cfg), f"nothing with {OPTION}: the run's own config"
        )
    return Given(
        task=record.task,
        agent_cfg=record.agent_cfg,
        num_envs=given.num_envs or record.num_envs,
        seed=given.seed if given.seed is not None else record.seed,
        timesteps=given.timesteps or record.timesteps,
        device=given.device or record.device,
        log_interval=given.log_interval or record.log_interval,
        overrides=(*_recorded(record, given), *given.overrides),
    )


def _recorded(record: RunRecord, given: Given) -> tuple[Override, ...]:
    """The record's ``env.`` overrides, less an Isaac Lab env count ``--num-envs`` replaces."""
    if given.num_envs is None:
        return record.env_overrides
    return tuple(o for o in record.env_overrides if o.key != "scene.num_envs")
