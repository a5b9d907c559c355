"""Streaming, mergeable statistics, and the batched per-environment episode engine.

Every reducer has ``update(values)``, ``merge(other)`` (a new reducer; neither input
changes), ``compute()``, ``reset()`` and ``count``. Values may be Python numbers, sequences,
numpy arrays or torch tensors of any shape (flattened); torch is never required.

Policies shared by every reducer:

* Empty: ``compute()`` returns NaN while no value has been seen (never 0, never ±inf), for
  ``sum`` and ``count`` too.
* NaN: propagates as in numpy. Any NaN input makes ``mean``, ``sum``, ``var``, ``std``,
  ``min``, ``max`` and every quantile NaN; ``last`` returns the last value even if it is NaN;
  ``count`` counts NaN. ±inf follow IEEE arithmetic (``sum`` of ``inf`` and ``-inf`` is NaN).
* Precision: host values accumulate in float64; torch-backed state is float64 on its
  device (float32 on MPS).
* Devices: updating with a tensor moves the state onto the tensor's device (state follows
  accelerators and never moves back to the host); updating never copies device memory to the
  host (no ``.item()``, ``.cpu()``, ``.tolist()``); ``compute()`` may. Merging a torch-backed
  reducer with a host-backed one gives a torch-backed result.
* Variance: ``Var(ddof=0)`` and ``Std(ddof=0)`` default to the population statistic, as
  ``numpy.var``; ``ddof=1`` gives the sample statistic. Welford update, Chan merge.
* Quantiles: ``Quantile(q)`` and ``QuantileSketch`` answer within a relative error
  ``relative_accuracy`` (default 1%) of ``numpy.quantile(values, q, method="lower")``.
"""

from pat_core.reducers._base import Reducer
from pat_core.reducers._episode_stack import EPISODE_REDUCES, EpisodeStack
from pat_core.reducers._episode_stats import EPISODE_STATS, EpisodeStats
from pat_core.reducers._extrema import Last, Max, Min
from pat_core.reducers._moments import Count, Mean, Std, Sum, Var
from pat_core.reducers._quantile import Quantile
from pat_core.reducers._registry import make_reducer, percentile_q, reducer_names
from pat_core.reducers._sketch import QuantileSketch

__all__ = [
    "EPISODE_REDUCES",
    "EPISODE_STATS",
    "Count",
    "EpisodeStack",
    "EpisodeStats",
    "Last",
    "Max",
    "Mean",
    "Min",
    "Quantile",
    "QuantileSketch",
    "Reducer",
    "Std",
    "Sum",
    "Var",
    "make_reducer",
    "percentile_q",
    "reducer_names",
]
