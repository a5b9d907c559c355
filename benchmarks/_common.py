"""Shared helpers of the benchmark scripts: interleaved timing, rows, the machine."""

from __future__ import annotations

import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
BIN = Path(sys.executable).parent


@dataclass
class Row:
    """One line of a benchmark's table.

    Attributes:
        figure: What was measured (pat's side).
        value: pat's median.
        baseline: What it is compared with.
        baseline_value: The baseline's median, measured in the same run.
        unit: Unit of both values.
        goal: The goal, in words.
        met: Whether the goal was met (None: no goal for this row, or not run).
        ratio: ``value / baseline_value``.
        samples: Every sample of pat's side, in order.
        baseline_samples: Every sample of the baseline, in order.
        note: Anything a reader needs to read the row.
    """

    figure: str
    value: float | None
    baseline: str
    baseline_value: float | None
    unit: str
    goal: str = ""
    met: bool | None = None
    ratio: float | None = None
    samples: list[float] = field(default_factory=list)
    baseline_samples: list[float] = field(default_factory=list)
    note: str = ""

    def __post_init__(self) -> None:
        if self.ratio is None and self.value is not None and self.baseline_value:
            self.ratio = self.value / self.baseline_value


def interleave(
    variants: Mapping[str, Callable[[], float]],
    repeats: int,
    *,
    warmup: int = 1,
    shuffle_seed: int | None = None,
) -> dict[str, list[float]]:
    """Run each variant ``repeats`` times in turn (A B C A B C ...); return their samples.

    Each callable returns its own measurement (seconds, or any figure), so that set-up
    and tear-down stay out of it. ``warmup`` rounds run first and are discarded. With
    ``shuffle_seed`` every round runs the variants in a new (seeded) order, so that no
    variant always follows the same one (a fixed order can favour one side by a few %).
    """
    order = random.Random(shuffle_seed) if shuffle_seed is not None else None
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for round_index in range(warmup + repeats):
        names = list(variants)
        if order is not None:
            order.shuffle(names)
        for name in names:
            value = variants[name]()
            if round_index >= warmup:
                samples[name].append(value)
    return samples


def paired_ratio(samples: list[float], baseline_samples: list[float]) -> float:
    """The median of per-round ratios ``samples[i] / baseline_samples[i]``.

    Each round's pair ran minutes apart at most, so slow drifts of the machine's speed
    cancel in the ratio; the median of the ratios is steadier than a ratio of medians.
    """
    return median([a / b for a, b in zip(samples, baseline_samples, strict=True)])


def median(values: list[float]) -> float:
    """The median (NaN for no values)."""
    return statistics.median(values) if values else float("nan")


def timed(function: Callable[[], Any]) -> float:
    """Seconds ``function()`` took (``perf_counter``)."""
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def run_process(command: list[str], env: Mapping[str, str] | None = None) -> float:
    """Wall seconds of one subprocess (stdout/stderr discarded); raises if it fails."""
    start = time.perf_counter()
    subprocess.run(
        command, env=dict(env or os.environ), check=True, capture_output=True, timeout=300
    )
    return time.perf_counter() - start


def children_cpu() -> float:
    """CPU seconds (user + system) of this process's finished, waited-for children so far."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def bytecode_env(cache: str) -> dict[str, str]:
    """``os.environ`` with bytecode caching on, into ``cache`` (a temp dir).

    This environment sets PYTHONDONTWRITEBYTECODE and the venv holds no ``.pyc`` files, so
    without this every subprocess would compile MLflow, torch, ... from source.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = cache
    return env


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return float("nan")


def machine() -> dict[str, Any]:
    """The machine and software the numbers were taken on, with the load right now."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": _ram_gib(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": _version("torch"),
        "mlflow": _version("mlflow"),
        "skrl": _version("skrl"),
        "gymnasium": _version("gymnasium"),
        "isaaclab": _version("isaaclab"),
        "pat": {name: _version(name) for name in ("pat-core", "pat-skrl-mlflow", "pat-cli")},
        "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def result(
    name: str,
    title: str,
    rows: list[Row],
    *,
    quick: bool,
    sizes: Mapping[str, Any],
    notes: list[str] | None = None,
    status: str = "ok",
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON document of one benchmark."""
    return {
        "name": name,
        "title": title,
        "status": status,
        "mode": "quick" if quick else "full",
        "sizes": dict(sizes),
        "rows": [asdict(row) for row in rows],
        "notes": list(notes or []),
        "extra": dict(extra or {}),
    }
