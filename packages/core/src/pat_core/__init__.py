"""pat-core: the pieces every pat package shares.

Streaming, mergeable reducers (and batched per-env episode accumulators), MLflow-safe
metric names, include/exclude filters and logging-interval policies. Nothing here
imports skrl, MLflow or gymnasium; torch is used when present, never required.
"""

from importlib.metadata import version as _version

# --- reducers (owned by pat_core.reducers) ---
# --- end reducers ---

# --- names, filters, intervals ---
# --- end names, filters, intervals ---

__version__ = _version("pat-core")

__all__ = ["__version__"]
