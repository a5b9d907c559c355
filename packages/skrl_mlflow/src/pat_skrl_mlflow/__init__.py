"""pat-skrl-mlflow: send everything a skrl agent tracks to MLflow.

Named with pat-core's MLflow-safe keys, reduced per logging window, paced by a
real log interval and delivered in batches from a background sender.
"""

from importlib.metadata import version as _version

__version__ = _version("pat-skrl-mlflow")

__all__ = ["__version__"]
