"""``pat model``: a trained policy as an MLflow model (``pat model log``)."""

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from pat_cli._console import console
from pat_cli._errors import DOMAIN_ERROR, bad_option, fail
from pat_cli._help import PLAIN, PlainCommand, PlainGroup
from pat_cli._options import TrackingUri

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from pat_skrl_mlflow import LoggedPolicy

TASK_TAG, ALGORITHM_TAG = "pat.task", "pat.algorithm"
ONNX_PACKAGES = ("onnx", "onnxruntime", "onnxscript")
ONNX_INSTALL = "pip install 'pat-skrl-mlflow[onnx]'"
POLICY_KINDS = {
    "gaussian": "the mean action of its Gaussian policy",
    "categorical": "the most likely action (argmax) of its categorical policy",
    "deterministic": "the action of its deterministic policy",
}
_POLICY_MODULES = ("policy", "observation_preprocessor", "state_preprocessor")


@dataclass(frozen=True)
class _Request:
    """What to log: the run, what it trained, the checkpoint, where and how."""

    run_id: str
    task: str
    algorithm: str
    checkpoint: Path
    tracking_uri: str
    agent_cfg: Path | None
    """--agent-cfg, else the run's recorded params/agent.yaml, else None (the task's)."""
    agent_cfg_source: str
    register_as: str | None
    onnx: bool


app = typer.Typer(
    name="model",
    help="Log a trained policy as an MLflow model of its run, and register it.",
    epilog="Example: pat model log --run RUN_ID --register-model cartpole-ppo",
    no_args_is_help=True,
    cls=PlainGroup,
    **PLAIN,
)


@app.command("log", cls=PlainCommand)
def log(
    *,
    run: Annotated[
        str | None,
        typer.Option(
            "--run",
            metavar="RUN_ID",
            help="The MLflow run `pat train` made (its id: `pat runs` lists them).",
            show_default=False,
        ),
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            help="The skrl checkpoint to log. Default: the latest agent_*.pt of the run's "
            "experiment directory, found under ./runs by its pat_run.json.",
            show_default=False,
        ),
    ] = None,
    register_model: Annotated[
        str | None,
        typer.Option(
            "--register-model",
            metavar="NAME",
            help="Also register the model in the Model Registry under NAME (a new version).",
            show_default=False,
        ),
    ] = None,
    onnx: Annotated[
        bool,
        typer.Option(
            "--onnx", help=f"Also log the policy exported to ONNX (needs: {ONNX_INSTALL})."
        ),
    ] = False,
    agent_cfg: Annotated[
        Path | None,
        typer.Option(
            "--agent-cfg",
            help="The skrl runner config YAML the run was trained with (`pat train "
            "--agent-cfg`). Default: the task's own.",
            show_default=False,
        ),
    ] = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Log the policy of a run `pat train` made as an MLflow model of that run.

    The agent is rebuilt from the run's task and algorithm (its pat.task and pat.algorithm
    tags; --agent-cfg if it was trained with one) and loaded from the checkpoint. The model
    maps observations to deterministic actions (a Gaussian policy's mean action, a
    categorical one's argmax), skrl's observation preprocessor applied. With
    --register-model the last line is the registered version's URI, models:/NAME/VERSION.

    Example: pat model log --run 3f2a... --register-model cartpole-ppo --onnx
    """
    if run is None or not run.strip():
        fail(
            "missing option --run; expected the id of a run `pat train` made.",
            hint="`pat runs` lists the runs.",
        )
    if register_model is not None and not register_model.strip():
        bad_option("--register-model", register_model, "a Model Registry name, e.g. cartpole-ppo")
    if checkpoint is not None and not checkpoint.is_file():
        bad_option("--checkpoint", str(checkpoint), "an existing skrl checkpoint (agent_*.pt)")
    if onnx:
        _check_onnx_installed()

    from pat_cli._mlflow_store import open_client, resolve_tracking_uri
    from pat_cli._run_record import AGENT_ARTIFACT
    from pat_cli._training import quiet_libraries

    quiet_libraries()
    uri = resolve_tracking_uri(tracking_uri)
    client = open_client(uri)  # exits 1 when there is no store to read
    task, algorithm = _run_task(client, run, uri)
    path = checkpoint or _latest_checkpoint(run)
    with tempfile.TemporaryDirectory(prefix="pat-model-") as scratch:
        recorded = None if agent_cfg else _recorded_agent_cfg(client, run, Path(scratch))
        if agent_cfg:
            source = f"--agent-cfg {agent_cfg}"
        elif recorded:
            source = f"the run's {AGENT_ARTIFACT}"
        else:
            source = f"the task's config (the run has no {AGENT_ARTIFACT})"
        request = _Request(
            run_id=run,
            task=task,
            algorithm=algorithm,
            checkpoint=path,
            tracking_uri=uri,
            agent_cfg=agent_cfg or recorded,
            agent_cfg_source=source,
            register_as=register_model,
            onnx=onnx,
        )
        _report(_log(request), request)


def _check_onnx_installed() -> None:
    import importlib.util

    from rich.markup import escape  # the hint is Rich markup: [onnx] would be a tag

    missing = [name for name in ONNX_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        fail(
            f"--onnx needs {', '.join(missing)}, not installed in this Python environment.",
            hint=escape(f"install them with `{ONNX_INSTALL}`, or log without --onnx."),
            code=DOMAIN_ERROR,
        )


def _run_task(client: "MlflowClient", run_id: str, uri: str) -> tuple[str, str]:
    """The task and algorithm `pat train` tagged the run with (exit 2 when it has none)."""
    from mlflow.exceptions import MlflowException

    from pat_skrl_mlflow import mask_uri

    try:
        tags = client.get_run(run_id).data.tags
    except MlflowException:
        bad_option("--run", run_id, f"the id of a run in {mask_uri(uri)} (`pat runs` lists them)")
    task, algorithm = tags.get(TASK_TAG), tags.get(ALGORITHM_TAG)
    if not task or not algorithm:
        bad_option(
            "--run",
            run_id,
            f"a run `pat train` made: this one has no {TASK_TAG} and {ALGORITHM_TAG} tags",
        )
    return task, algorithm


def _recorded_agent_cfg(client: "MlflowClient", run_id: str, scratch: Path) -> Path | None:
    """The skrl runner config the run was trained with (``params/agent.yaml``), if recorded.

    ``pat train`` records it; a run from before it did is rebuilt from the task's config.
    """
    from pat_cli._run_record import AGENT_ARTIFACT

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        return Path(client.download_artifacts(run_id, AGENT_ARTIFACT, str(scratch)))
    except Exception:  # not recorded (or unreadable): the task's own config
        return None


def _run_files() -> str:
    """The glob of run records (``RUN_FILE``) in ``runs/<task>/<time>_<ALGO>/``."""
    from pat_skrl_mlflow import RUN_FILE

    return f"runs/*/*/{RUN_FILE}"


def experiment_directory(run_id: str, root: Path | None = None) -> Path | None:
    """The skrl experiment directory whose ``pat_run.json`` names ``run_id``, under ``root``."""
    for run_file in sorted((root or Path.cwd()).glob(_run_files())):
        try:
            recorded = json.loads(run_file.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(recorded, dict) and recorded.get("run_id") == run_id:
            return run_file.parent
    return None


def _latest_checkpoint(run_id: str) -> Path:
    from pat_skrl_mlflow import checkpoint_timestep

    directory = experiment_directory(run_id)
    if directory is None:
        fail(
            f"missing option --checkpoint: no {_run_files()} under {Path.cwd()} names run "
            f"{run_id}; expected --checkpoint PATH, a skrl checkpoint (agent_*.pt) of the run.",
            hint="run this where `pat train` ran, or pass --checkpoint.",
        )
    found = [
        (timestep, path)
        for path in (directory / "checkpoints").glob("agent_*.pt")
        if (timestep := checkpoint_timestep(path)) is not None
    ]
    if not found:
        fail(
            f"missing option --checkpoint: run {run_id}'s directory {directory} has no "
            "checkpoints/agent_*.pt; expected --checkpoint PATH, a skrl checkpoint of the run.",
        )
    return max(found)[1]


def _log(request: _Request) -> "LoggedPolicy":
    """Rebuild the run's agent, load the checkpoint into it and log its policy."""
    from pat_cli._setup import finish_cfg, prepare
    from pat_cli._train_env import EnvSpec, make_env

    modules = _checkpoint_modules(request)
    # the algorithm comes from the config when there is one (a mismatch fails as a checkpoint's)
    algorithm = None if request.agent_cfg else request.algorithm.lower()
    ready = prepare(request.task, algorithm, request.agent_cfg, 1, "cpu")
    with tempfile.TemporaryDirectory() as scratch:
        cfg = finish_cfg(ready.cfg, ready.choice, 1, None, directory=scratch)
        cfg["agent"]["experiment"].update(write_interval=0, checkpoint_interval=0)
        env = make_env(EnvSpec(ready.choice, 1, "cpu", None, {}))
        try:
            agent = _agent(env, cfg, ready.source)
            _load(agent, request, modules)
            return _log_policy(agent, request)
        finally:
            env.close()


def _agent(env: Any, cfg: dict[str, Any], source: str) -> Any:
    from pat_cli._train_env import build_runner

    hint = "pass the --agent-cfg the run was trained with."
    return build_runner(env, cfg, source=source, hint=hint).agent


def _wrong_checkpoint(request: _Request, why: str) -> NoReturn:
    bad_option(
        "--checkpoint",
        str(request.checkpoint),
        f"a checkpoint of this run's {request.algorithm} on {request.task} ({why})",
    )


def _checkpoint_modules(request: _Request) -> set[str]:
    """The module names in the checkpoint; exit 2 unless it holds a skrl policy.

    Read before the env and the agent are built, which takes seconds (Isaac Lab: minutes).
    """
    import torch

    try:  # skrl's own agent.load reads it so (its modules are whole objects, optimizers too)
        modules = torch.load(request.checkpoint, map_location="cpu", weights_only=False)
    except Exception as error:
        _wrong_checkpoint(request, f"{type(error).__name__}: {_first_line(error)}")
    if not isinstance(modules, dict) or "policy" not in modules:
        _wrong_checkpoint(request, "it holds no skrl policy")
    return {str(name) for name in modules}


def _load(agent: Any, request: _Request, modules: set[str]) -> None:
    """Load the checkpoint into ``agent``; exit 2 unless it is a checkpoint of that agent."""
    own = set(agent.checkpoint_modules)
    foreign = sorted(modules - own)
    lacking = sorted(name for name in _POLICY_MODULES if name in own and name not in modules)
    if foreign or lacking:
        parts = [f"it has {', '.join(foreign)}"] if foreign else []
        parts += [f"it lacks {', '.join(lacking)}"] if lacking else []
        _wrong_checkpoint(request, "; ".join(parts))
    try:
        agent.load(str(request.checkpoint))
    except Exception as error:
        _wrong_checkpoint(request, f"{type(error).__name__}: {_first_line(error)}")


def _log_policy(agent: Any, request: _Request) -> "LoggedPolicy":
    import logging

    from pat_cli._quiet import quiet_setup
    from pat_skrl_mlflow import log_policy, mask_uri

    for name in ("mlflow", "torch.onnx", "torch.export"):  # MLflow's notes, torch's exporter's
        logging.getLogger(name).setLevel(logging.ERROR)
    error: Exception | None = None
    try:
        with quiet_setup():  # replayed on stderr if MLflow or torch fail in an unexpected way
            try:
                return log_policy(
                    agent,
                    request.run_id,
                    tracking_uri=request.tracking_uri,
                    register_as=request.register_as,
                    onnx=request.onnx,
                    checkpoint=request.checkpoint,
                )
            except TypeError as unsupported:
                error = unsupported
    except Exception as failure:
        fail(
            f"could not log the policy of run {request.run_id} to "
            f"{mask_uri(request.tracking_uri)}: "
            f"{type(failure).__name__}: {_first_line(failure)}",
            code=DOMAIN_ERROR,
        )
    fail(f"the policy of run {request.run_id} cannot be logged: {error}", code=DOMAIN_ERROR)


def _report(logged: "LoggedPolicy", request: _Request) -> None:
    console.print(
        f"Logged the policy of run {logged.run_id} ({request.algorithm} on {request.task}, "
        f"checkpoint {_shown(request.checkpoint)}, agent from {request.agent_cfg_source}) as "
        f"MLflow model "
        f"{logged.artifact_path!r}: {POLICY_KINDS[logged.kind]}.",
        highlight=False,
        soft_wrap=True,
    )
    reward = logged.metrics.get("episode_reward_mean")
    if reward is not None:
        console.print(f"Model metric episode_reward_mean: {reward:.6g}", highlight=False)
    console.print(f"Model: {logged.model_uri}", highlight=False, soft_wrap=True)
    if logged.onnx_model_uri:
        console.print(f"ONNX model: {logged.onnx_model_uri}", highlight=False, soft_wrap=True)
    if logged.registered_model_uri:
        console.print(
            f"Registered as {logged.registered_name!r} version {logged.registered_version}:",
            highlight=False,
        )
        console.print(logged.registered_model_uri, highlight=False, soft_wrap=True)


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
