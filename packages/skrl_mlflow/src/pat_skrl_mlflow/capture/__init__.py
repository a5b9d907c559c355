"""Stage 1, capture: see every value a skrl agent tracks, exactly once."""

from pat_skrl_mlflow.capture._capture import CapturingDict, DiscardingDict
from pat_skrl_mlflow.capture._envinfo import EnvInfoGate
from pat_skrl_mlflow.capture._hooks import AgentHooks
from pat_skrl_mlflow.capture._values import flatten_value, to_host_array

__all__ = [
    "AgentHooks",
    "CapturingDict",
    "DiscardingDict",
    "EnvInfoGate",
    "flatten_value",
    "to_host_array",
]
