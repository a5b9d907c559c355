"""Log a trained skrl agent's policy as an MLflow model of its run (and, optionally, as ONNX).

The model is a torch module from observations to deterministic actions, as Isaac Lab's
``play`` scripts act with a trained skrl agent: skrl's observation preprocessor (a running
standard scaler, if the agent has one) applied first, then the policy's mean action for a
Gaussian policy, the most likely action (argmax) for a categorical one, the action itself for
a deterministic one. MLflow's own PyTorch flavour saves it (``mlflow.pytorch.log_model``, as a
``torch.export`` graph on MLflow 3: loading it needs torch only, neither skrl nor pat), with a
signature and an input example from the agent's observation space, the skrl checkpoint and the
agent config as extra files, and the run's metrics at its last ``episode_reward_mean`` step as
the model's metrics.

torch, skrl and MLflow are imported only when a policy is logged. With ``writer=`` (``pat
train``'s store writer process) the calling process does the torch half only (the module, the
example, the files) and the writer does MLflow's (signature, ``log_model``, registry): MLflow is
imported and the store open there already, and :func:`warm_up_policy_logging` has it import
torch's exporter while training runs.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import logging
import tempfile
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pat_skrl_mlflow.run_store._secrets import mask_uri

if TYPE_CHECKING:
    import os
    from collections.abc import Iterator

    import numpy as np
    import torch
    from mlflow import MlflowClient

    from pat_skrl_mlflow.run_store._writer_client import ProcessClient

__all__ = [
    "ONNX_EXTRA",
    "LoggedPolicy",
    "PolicyKind",
    "PolicyRequest",
    "deterministic_policy",
    "log_policy",
    "warm_up_policy_logging",
]

_log = logging.getLogger("pat_skrl_mlflow")

PolicyKind = Literal["gaussian", "categorical", "deterministic"]
"""How the deterministic action is read from the policy: mean, argmax or the action itself."""
REWARD_KEY = "episode_reward_mean"
"""The metric whose last step picks the run's metrics that become the model's."""
ONNX_EXTRA = "pip install 'pat-skrl-mlflow[onnx]'"
"""What installs the packages ``onnx=True`` needs (onnx, onnxruntime, onnxscript)."""
_EXAMPLE_ROWS = 4  # a batch of 1 would let torch.export fix the model's batch size at 1


@dataclass(frozen=True)
class LoggedPolicy:
    """Where :func:`log_policy` put a policy.

    Attributes:
        run_id: The run the model belongs to.
        model_uri: The logged model (``models:/m-...`` on MLflow 3, ``runs:/RUN/PATH`` on 2).
        artifact_path: The model's name in the run (``policy``).
        kind: How actions are read from the policy (``gaussian``: mean action,
            ``categorical``: argmax, ``deterministic``: the action).
        model_id: MLflow 3's id of the logged model (``None`` on MLflow 2).
        registered_name: The Model Registry name it was registered as, if any.
        registered_version: Its version there.
        onnx_model_uri: The ONNX model logged next to it (``onnx=True``), else ``None``.
        metrics: The model's metrics (MLflow 3): the run's metrics at the step of its last
            ``episode_reward_mean``, e.g. ``{"episode_reward_mean": 187.5, ...}``.
    """

    run_id: str
    model_uri: str
    artifact_path: str
    kind: PolicyKind
    model_id: str | None = None
    registered_name: str | None = None
    registered_version: str | None = None
    onnx_model_uri: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def registered_model_uri(self) -> str | None:
        """``models:/NAME/VERSION`` when the model was registered, else ``None``."""
        if self.registered_name is None or self.registered_version is None:
            return None
        return f"models:/{self.registered_name}/{self.registered_version}"

    @property
    def uri(self) -> str:
        """The URI to load the policy with: the registered version's, else the model's."""
        return self.registered_model_uri or self.model_uri


def log_policy(
    agent: Any,
    run_id: str,
    *,
    tracking_uri: str | None = None,
    register_as: str | None = None,
    artifact_path: str = "policy",
    onnx: bool = False,
    input_example: Any = None,
    checkpoint: str | os.PathLike[str] | None = None,
    agent_config: Mapping[str, Any] | None = None,
    writer: ProcessClient | None = None,
) -> LoggedPolicy:
    """Log ``agent``'s policy as an MLflow model of run ``run_id``.

    The model maps a float32 batch of observations, shaped ``(n, num_observations)`` as
    skrl's env wrapper hands them to the agent, to the deterministic actions of
    :func:`deterministic_policy`. ``mlflow.pyfunc.load_model(uri).predict(observations)``
    returns them as a NumPy array. The run is not resumed: its status and end time stay.

    Args:
        agent: A trained single-agent skrl agent with a ``policy`` (PPO, A2C, RPO, SAC, TD3,
            DDPG, ...), on any device (the model is a CPU copy).
        run_id: The MLflow run the model belongs to (a finished run is fine).
        tracking_uri: Its store; default: ``MLFLOW_TRACKING_URI`` or MLflow's default.
        register_as: Also register the model under this Model Registry name (created if
            missing); the result's :attr:`LoggedPolicy.uri` is then ``models:/NAME/VERSION``.
        artifact_path: The model's name in the run; the ONNX model is ``<name>_onnx``.
        onnx: Also export the same module with ``torch.onnx.export`` and log it with MLflow's
            ONNX flavour (needs the ``onnx`` extra: ``pip install 'pat-skrl-mlflow[onnx]'``).
        input_example: A batch of observations for the signature and the input example;
            default: a batch sampled from the agent's observation space.
        checkpoint: The skrl checkpoint the agent was loaded from, stored with the model;
            default: the agent's current weights, saved with ``agent.save``.
        agent_config: The config stored with the model as ``agent_config.yaml``; default:
            the agent's own (``agent.cfg``).
        writer: The run's store writer process (``pat train``'s): the MLflow half (signature,
            ``log_model``, registry) runs there, where MLflow is imported and the store open,
            so this process never imports MLflow (``tracking_uri`` is the writer's store).
            Call :func:`warm_up_policy_logging` on it early to have it import what that
            needs while training runs.

    Returns:
        Where the model (and its registered version and ONNX twin) were logged.

    Raises:
        TypeError: The agent has no single policy that maps observations to actions
            (a multi-agent or a multi-categorical agent, a policy that reads env states).
        ValueError: ``input_example`` or ``register_as`` is not usable.
        ModuleNotFoundError: ``onnx=True`` without onnx, onnxruntime or onnxscript.
        StoreRequestError: With ``writer``: the writer failed to log it (the message is
            MLflow's).
    """
    if register_as is not None and not register_as.strip():
        raise ValueError("register_as must be a non-empty Model Registry name")
    if onnx:
        _check_onnx_installed()
    module, kind = _policy_module(agent)
    observations = _example_observations(agent, input_example)

    import torch

    with torch.no_grad():
        actions = module(torch.from_numpy(observations)).numpy()
    with tempfile.TemporaryDirectory(prefix="pat-policy-") as scratch:
        extra_files = [
            _checkpoint_file(agent, checkpoint, Path(scratch)),
            _config_file(agent, agent_config, Path(scratch)),
        ]
        request = PolicyRequest(
            run_id=run_id,
            module=module,
            kind=kind,
            observations=observations,
            actions=actions,
            extra_files=extra_files,
            # exported before anything is logged: a policy ONNX cannot express fails first
            onnx_file=str(_export_onnx(module, observations, Path(scratch))) if onnx else None,
            metadata=_metadata(agent, kind, extra_files[0]),
            artifact_path=artifact_path,
            register_as=register_as,
        )
        return writer.log_policy(request) if writer is not None else request.log(tracking_uri)


@dataclass(frozen=True)
class PolicyRequest:
    """Everything the MLflow half of :func:`log_policy` needs, prepared with torch and skrl.

    Sent to pat's store writer process (pickled: the module with ``cloudpickle``, as skrl's
    model classes are made at run time), or logged in this process by :meth:`log`. The
    files are in a directory the caller keeps until the request is answered.
    """

    run_id: str
    module: Any  # torch.nn.Module; Any so that the dataclass needs no torch to be defined
    kind: PolicyKind
    observations: np.ndarray
    actions: np.ndarray
    extra_files: list[str]
    onnx_file: str | None
    metadata: dict[str, str]
    artifact_path: str
    register_as: str | None

    def __getstate__(self) -> dict[str, Any]:
        import cloudpickle  # type: ignore[import-untyped]  # skrl's model classes are made at run time

        state = dict(vars(self))
        state["module"] = cloudpickle.dumps(self.module)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        import pickle

        _warmed.wait()  # torch's import is not safe in two threads at once: the warm-up's first
        state = dict(state)
        state["module"] = pickle.loads(state["module"])  # our own parent's
        for name, value in state.items():
            object.__setattr__(self, name, value)

    def log(self, tracking_uri: str | None = None) -> LoggedPolicy:
        """Log the policy with MLflow (in the calling process) on ``tracking_uri``'s store."""
        _warmed.wait()  # a warm-up thread of this process imports what this needs
        import mlflow
        import mlflow.pytorch
        from mlflow.models import infer_signature

        signature = infer_signature(self.observations, self.actions)
        with _using_tracking_uri(tracking_uri):
            client = mlflow.MlflowClient(mlflow.get_tracking_uri())
            client.get_run(self.run_id)  # an unknown run fails here, before anything is written
            with _quiet_export():
                info = mlflow.pytorch.log_model(
                    self.module,
                    **_model_name(mlflow.pytorch.log_model, self.artifact_path),
                    **_supported(
                        mlflow.pytorch.log_model,
                        serialization_format="pt2",  # no pickle: loading needs neither skrl nor pat
                        step=_reward_step(client, self.run_id),  # MLflow 3: its metrics -> model
                    ),
                    pip_requirements=_torch_requirements(),
                    run_id=self.run_id,  # Model.log's: logs to the run without resuming it
                    signature=signature,
                    input_example=self.observations,
                    extra_files=self.extra_files,
                    metadata={"pat": self.metadata},
                )
            onnx_uri = None
            if self.onnx_file is not None:
                onnx_uri = _log_onnx(
                    Path(self.onnx_file),
                    observations=self.observations,
                    signature=signature,
                    run_id=self.run_id,
                    name=f"{self.artifact_path}_onnx",
                )
            version = None
            if self.register_as is not None:
                version = str(mlflow.register_model(info.model_uri, self.register_as).version)
            model_id = getattr(info, "model_id", None)
            logged = LoggedPolicy(
                run_id=self.run_id,
                model_uri=str(info.model_uri),
                artifact_path=self.artifact_path,
                kind=self.kind,
                model_id=model_id,
                registered_name=self.register_as,
                registered_version=version,
                onnx_model_uri=onnx_uri,
                metrics=_model_metrics(client, model_id),
            )
            store = mask_uri(mlflow.get_tracking_uri())
        _log.info("pat: policy of run %s logged as %s in %s", self.run_id, logged.uri, store)
        return logged


_warmed = threading.Event()
_warmed.set()  # nothing to wait for until warm_up_policy_logging starts a warm-up
_warm_lock = threading.Lock()
_warm_up_started: list[bool] = []  # non-empty once this process started its warm-up


def warm_up_policy_logging() -> None:
    """Import, in a background thread, what :meth:`PolicyRequest.log` needs, and use it once.

    torch, skrl's model classes (to unpickle a policy), MLflow's PyTorch flavour, and a
    ``torch.export`` plus ``mlflow.pytorch.save_model`` of a one-layer model: the first
    export in a process costs seconds of torch's lazy imports, the second a few hundredths.
    pat's store writer process runs it when ``pat train --log-model`` starts training, so
    that logging the policy at the end takes a fraction of a second. Runs once a process.
    """
    with _warm_lock:
        if _warm_up_started:
            return
        _warm_up_started.append(True)
        _warmed.clear()
    threading.Thread(target=_warm_up, name="pat-policy-warm-up", daemon=True).start()


def _warm_up() -> None:
    try:
        import numpy as np
        import torch

        torch.set_num_threads(1)  # a one-layer model: no thread pool to start beside training
        import mlflow.pytorch
        import skrl.models.torch  # noqa: F401 - the policy's classes derive from its mixins
        from mlflow.models import infer_signature

        logging.getLogger("mlflow.utils.environment").setLevel(logging.ERROR)  # "no pip here"

        module = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ELU()).eval()
        example = np.zeros((_EXAMPLE_ROWS, 2), dtype=np.float32)
        with torch.no_grad():
            output = module(torch.from_numpy(example)).numpy()
        with tempfile.TemporaryDirectory(prefix="pat-policy-warm-up-") as scratch:
            mlflow.pytorch.save_model(
                module,
                str(Path(scratch) / "model"),
                **_supported(mlflow.pytorch.save_model, serialization_format="pt2"),
                pip_requirements=_torch_requirements(),
                signature=infer_signature(example, output),
                input_example=example,
            )
    except Exception as error:  # the real request fails (or not) on its own
        _log.debug("pat: warming up policy logging failed: %r", error)
    finally:
        _warmed.set()


def deterministic_policy(agent: Any) -> torch.nn.Module:
    """A CPU copy of ``agent``'s policy as a module: observations -> deterministic actions.

    skrl's observation preprocessor (``observation_preprocessor`` on skrl 2,
    ``state_preprocessor`` on skrl 1) is applied first, in evaluation mode (its running
    statistics are not updated). The action is the policy's ``mean_actions`` for a Gaussian
    policy, the argmax of its logits or probabilities (shape ``(n, 1)``, int64) for a
    categorical one, and its action for a deterministic one (DDPG's, TD3's). The module has
    a ``kind`` attribute naming which (:data:`PolicyKind`); its parameters need no grad.

    Raises:
        TypeError: As for :func:`log_policy`.
    """
    return _policy_module(agent)[0]


def _policy_module(agent: Any) -> tuple[torch.nn.Module, PolicyKind]:
    import torch

    policy = getattr(agent, "policy", None)
    if not isinstance(policy, torch.nn.Module):
        raise TypeError(
            f"{type(agent).__name__} has no single policy model (agent.policy); multi-agent "
            "agents (IPPO, MAPPO) are not supported"
        )
    skrl2 = hasattr(agent, "_observation_preprocessor")
    preprocessor = _preprocessor(
        agent._observation_preprocessor if skrl2 else getattr(agent, "_state_preprocessor", None)
    )
    policy = _cpu_copy(policy)
    kind = _policy_kind(policy)
    module = _module_class()(policy, preprocessor, kind, "observations" if skrl2 else "states")
    module.eval().requires_grad_(False)
    space = getattr(agent, "observation_space", None)
    try:
        with torch.no_grad():
            module(_sample_observations(space))
    except Exception as error:
        raise TypeError(
            f"the policy of {type(agent).__name__} does not map a batch of observations to "
            f"actions ({type(error).__name__}: {error}); a policy that reads the env's states "
            "or a recurrent one cannot be logged"
        ) from error
    return module, kind


@functools.cache
def _module_class() -> type[torch.nn.Module]:
    """The module class (built on first use: importing pat must not import torch)."""
    import torch

    class SkrlDeterministicPolicy(torch.nn.Module):
        """skrl's observation preprocessor, then the policy's deterministic action."""

        def __init__(
            self, policy: torch.nn.Module, preprocessor: torch.nn.Module, kind: str, key: str
        ) -> None:
            super().__init__()
            self.policy: Any = policy  # a skrl model: act() is not torch.nn.Module's
            self.preprocessor = preprocessor
            self.kind = kind
            self.key = key  # skrl 2 calls observations "observations", skrl 1 "states"

        def forward(self, observations: torch.Tensor) -> torch.Tensor:
            inputs: dict[str, Any] = {self.key: self.preprocessor(observations)}
            if self.key == "observations":
                inputs["states"] = None
            result = self.policy.act(inputs, role="policy")  # skrl 1: 3 items, skrl 2: 2
            if self.kind == "gaussian":
                mean: torch.Tensor = result[-1]["mean_actions"]
                return mean
            if self.kind == "categorical":
                return torch.argmax(result[-1]["net_output"], dim=-1, keepdim=True)
            action: torch.Tensor = result[0]
            return action

    return SkrlDeterministicPolicy


def _policy_kind(policy: Any) -> PolicyKind:
    from skrl.models import torch as models

    multi = (getattr(models, "MultiCategoricalMixin", None),)
    if any(kind is not None and isinstance(policy, kind) for kind in multi):
        raise TypeError("multi-categorical policies are not supported (one argmax per branch)")
    # a shared model is Gaussian/Categorical *and* Deterministic (its value role): policy first
    if isinstance(policy, models.GaussianMixin | models.MultivariateGaussianMixin):
        return "gaussian"
    if isinstance(policy, models.CategoricalMixin):
        return "categorical"
    if isinstance(policy, models.DeterministicMixin):
        return "deterministic"
    raise TypeError(f"unsupported skrl policy model {type(policy).__name__}")


def _preprocessor(preprocessor: Any) -> torch.nn.Module:
    """A CPU copy of the agent's preprocessor as a module (``Identity`` when it has none)."""
    import torch

    if preprocessor is None or getattr(preprocessor, "__name__", "") == "_empty_preprocessor":
        return torch.nn.Identity()
    if not isinstance(preprocessor, torch.nn.Module):
        raise TypeError(
            f"the observation preprocessor {type(preprocessor).__name__} is not a torch module"
        )
    return _cpu_copy(preprocessor)


def _cpu_copy(module: torch.nn.Module) -> torch.nn.Module:
    """A deep copy on the CPU, without the last distribution skrl's mixins keep.

    skrl's models keep what their last call computed (the distribution, skrl 1's clipped
    ``_g_log_std``): tensors that are not graph leaves, which ``deepcopy`` refuses, so
    they are copied detached (the distribution dropped). Plain tensor attributes (skrl's
    action limits) are moved too: ``.to()`` moves only parameters and buffers.
    """
    import torch

    memo: dict[int, Any] = {}
    for sub in module.modules():
        for value in vars(sub).values():
            if isinstance(value, torch.distributions.Distribution):
                memo[id(value)] = None
            elif isinstance(value, torch.Tensor) and not value.is_leaf:
                memo[id(value)] = value.detach().clone()
    copied = copy.deepcopy(module, memo).to("cpu")
    cpu = torch.device("cpu")
    for sub in copied.modules():
        for name, value in list(vars(sub).items()):
            if isinstance(value, torch.Tensor) and value.device != cpu:
                setattr(sub, name, value.to(cpu))
            elif name == "device" and isinstance(value, torch.device | str):
                setattr(sub, name, cpu)
    return copied


def _sample_observations(space: Any, rows: int = _EXAMPLE_ROWS) -> torch.Tensor:
    """A float32 batch sampled from ``space``, flattened as skrl's env wrappers do."""
    from skrl.utils.spaces.torch import flatten_tensorized_space, sample_space

    if space is None:
        raise TypeError("the agent has no observation_space to sample observations from")
    sample = sample_space(space, batch_size=rows, backend="native", device="cpu")
    flat: torch.Tensor = flatten_tensorized_space(sample)
    return flat.float()


def _example_observations(agent: Any, example: Any) -> np.ndarray:
    """The input example: ``example`` as a float32 batch, or a sample of the space."""
    import numpy as np
    from skrl.utils.spaces.torch import compute_space_size

    if example is None:
        return _sample_observations(getattr(agent, "observation_space", None)).numpy()
    if hasattr(example, "detach"):  # a tensor, on any device
        example = example.detach().cpu().numpy()
    array = np.asarray(example, dtype=np.float32)
    size = compute_space_size(agent.observation_space)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2 or array.shape[1] != size or array.shape[0] == 0:
        raise ValueError(
            f"input_example has shape {tuple(np.shape(example))}; expected a batch of "
            f"observations shaped (n, {size})"
        )
    if array.shape[0] == 1:  # a batch of 1 would fix the exported model's batch size
        array = np.repeat(array, 2, axis=0)
    return array


@contextlib.contextmanager
def _using_tracking_uri(uri: str | None) -> Iterator[None]:
    """MLflow's fluent API (``log_model``, ``register_model``) on ``uri`` for a while."""
    import mlflow

    previous = mlflow.get_tracking_uri()
    if uri is None or uri == previous:
        yield
        return
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)


@contextlib.contextmanager
def _quiet_export() -> Iterator[None]:
    """Without torch.export's warning about skrl's shared models caching their output.

    A shared policy/value model keeps the shared network's output for the value role
    (``_shared_output``); the exported graph recomputes it for the policy role every call.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"The tensor attribute self\.policy\.", category=UserWarning
        )
        yield


def _supported(function: Any, **kwargs: Any) -> dict[str, Any]:
    """The keyword arguments ``function`` accepts (MLflow 2 lacks several of MLflow 3's)."""
    accepted = inspect.signature(function).parameters
    return {name: value for name, value in kwargs.items() if name in accepted}


def _model_name(function: Any, name: str) -> dict[str, str]:
    """MLflow 3 names a model ``name=``; MLflow 2 calls it ``artifact_path=``."""
    accepted = inspect.signature(function).parameters
    return {"name": name} if "name" in accepted else {"artifact_path": name}


def _torch_requirements() -> list[str] | None:
    """The flavour's own minimum (torch) for a ``torch.export`` graph, which needs no more.

    MLflow would otherwise infer them by loading the model in a child process (seconds),
    or take a whole uv lock when the working directory is a uv project. A pickled model
    (MLflow 2) needs skrl too: there MLflow infers them.
    """
    import mlflow.pytorch

    if "serialization_format" not in inspect.signature(mlflow.pytorch.log_model).parameters:
        return None
    return list(mlflow.pytorch.get_default_pip_requirements())


def _reward_step(client: MlflowClient, run_id: str) -> int:
    history = client.get_metric_history(run_id, REWARD_KEY)
    return max((m.step for m in history), default=0)


def _model_metrics(client: MlflowClient, model_id: str | None) -> dict[str, float]:
    if model_id is None or not hasattr(client, "get_logged_model"):
        return {}
    metrics = client.get_logged_model(model_id).metrics or []
    return {m.key: float(m.value) for m in metrics}


def _checkpoint_file(agent: Any, checkpoint: str | os.PathLike[str] | None, scratch: Path) -> str:
    if checkpoint is not None:
        path = Path(checkpoint)
        if not path.is_file():
            raise ValueError(f"checkpoint {str(path)!r} is not a file")
        return str(path)
    path = scratch / "agent.pt"
    agent.save(str(path))  # the weights being logged, in skrl's checkpoint format
    return str(path)


def _config_file(agent: Any, config: Mapping[str, Any] | None, scratch: Path) -> str:
    import yaml  # type: ignore[import-untyped]

    from pat_skrl_mlflow._agent import cfg_as_dict

    plain = _yaml_ready(config if config is not None else cfg_as_dict(getattr(agent, "cfg", {})))
    path = scratch / "agent_config.yaml"
    path.write_text(yaml.safe_dump(plain, sort_keys=False))
    return str(path)


def _yaml_ready(value: Any) -> Any:
    """``value`` with classes and functions (skrl's preprocessor, scheduler) as their names."""
    if isinstance(value, Mapping):
        return {str(k): _yaml_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_yaml_ready(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, type) or callable(value):
        module = getattr(value, "__module__", "") or ""
        name = getattr(value, "__qualname__", None) or type(value).__qualname__
        return f"{module}.{name}" if module else name
    return str(value)


def _metadata(agent: Any, kind: str, checkpoint: str) -> dict[str, str]:
    from importlib import metadata

    return {
        "algorithm": type(agent).__name__,
        "policy_kind": kind,
        "checkpoint": Path(checkpoint).name,
        "skrl_version": metadata.version("skrl"),
        "input": "observations, float32 (n, num_observations), as skrl's env wrapper gives them",
    }


def _check_onnx_installed() -> None:
    import importlib.util

    needed = ("onnx", "onnxruntime", "onnxscript")
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        raise ModuleNotFoundError(
            f"onnx=True needs {', '.join(missing)}, not installed here: {ONNX_EXTRA}"
        )


def _export_onnx(module: torch.nn.Module, observations: np.ndarray, scratch: Path) -> Path:
    """``module`` exported with ``torch.onnx.export``: ``observations`` -> ``actions``."""
    import torch

    path = scratch / "policy.onnx"
    accepted = inspect.signature(torch.onnx.export).parameters
    dynamo = "dynamo" in accepted and accepted["dynamo"].default is True  # torch >= 2.9
    batch: dict[str, Any] = (  # any batch size: the torch.export way, else TorchScript's
        {"dynamic_shapes": ({0: torch.export.Dim("batch")},)}
        if dynamo
        else {"dynamic_axes": {"observations": {0: "batch"}, "actions": {0: "batch"}}}
    )
    with torch.no_grad(), _quiet_export():
        torch.onnx.export(
            module,
            (torch.from_numpy(observations),),
            str(path),
            input_names=["observations"],
            output_names=["actions"],
            verbose=False,
            **batch,
        )
    return path


def _log_onnx(
    path: Path, *, observations: np.ndarray, signature: Any, run_id: str, name: str
) -> str:
    """The ONNX file logged with MLflow's ONNX flavour as model ``name``; its model URI."""
    import importlib

    import mlflow.onnx

    onnx = importlib.import_module("onnx")  # an optional extra: no stubs needed to type-check
    info = mlflow.onnx.log_model(
        onnx.load(str(path)),
        **_model_name(mlflow.onnx.log_model, name),
        run_id=run_id,
        signature=signature,
        input_example=observations,
        pip_requirements=mlflow.onnx.get_default_pip_requirements(),  # onnx, onnxruntime
    )
    return str(info.model_uri)
