"""A cProfile of env metrics' ``compute`` + ``reset`` (the path that missed its goal first).

Benchmark 3 compares pat's manager with Isaac Lab's RewardManager on the same terms; this
profile says where the time goes (8 synthetic terms, 1,024 envs, CPU).
"""

from __future__ import annotations

import cProfile
import io
import pstats
import subprocess
import sys
import tempfile
import time
from typing import Any

import bench_env_metrics as em
from _common import ROOT, bytecode_env, result

NAME = "profile"
TITLE = "env metrics, `MetricsManager.compute()` + `reset()` (8 terms, 1,024 envs, CPU)"
TOP = 14


def _per_call(function: Any, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls


def _reset_per_call(manager: Any, ids: Any, calls: int) -> float:
    """Seconds per ``reset(ids)``, each after an untimed ``compute()``.

    The ended episodes then have steps, as in training; a reset of envs without a counted
    step returns early and would measure only that.
    """
    total = 0.0
    for _ in range(calls):
        manager.compute()
        start = time.perf_counter()
        manager.reset(ids)
        total += time.perf_counter() - start
    return total / calls


def _importtime() -> list[str]:
    """The slowest imports of ``pat --help`` (``-X importtime``, cumulative, bytecode cached)."""
    with tempfile.TemporaryDirectory(prefix="pat-bench-pycache-") as cache:
        env = bytecode_env(cache)
        command = [sys.executable, "-X", "importtime", "-c", "import pat_cli.app"]
        subprocess.run(command, env=env, check=True, capture_output=True)  # fills the cache
        lines = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    rows = [line for line in lines.stderr.splitlines() if line.startswith("import time:")]
    rows = [r for r in rows if r.split("|")[1].strip().isdigit()]
    rows.sort(key=lambda r: int(r.split("|")[1]), reverse=True)
    header = "self [us] | cumulative [us] | module"
    return [header, *(r.replace("import time:", "").strip() for r in rows[:10])]


def run(quick: bool) -> dict[str, Any]:
    """Profile 300 steps; also time compute and reset apart."""
    import torch

    from pat_env_metrics import MetricsManager

    torch.set_num_threads(1)
    num_envs, steps = 1024, 300
    generator = torch.Generator().manual_seed(0)
    env = em._FakeEnv(
        num_envs, "cpu", *(torch.randn(num_envs, n, generator=generator) for n in (2, 2, 1, 1))
    )
    manager = MetricsManager(em._synthetic_terms(), env)
    ids = torch.arange(num_envs // em.EPISODE_STEPS)
    compute = _per_call(manager.compute, steps)
    reset = _reset_per_call(manager, ids, steps)
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(steps):
        manager.compute()
        manager.reset(ids)
    profile.disable()
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(TOP)
    top = [line.rstrip() for line in text.getvalue().splitlines() if line.strip()]
    top = [line.replace(str(ROOT) + "/", "") for line in top]
    notes = [
        f"Per call, measured apart: `compute()` {compute * 1e3:.3f} ms, `reset(ids)` of "
        f"{len(ids)} envs whose episodes have steps {reset * 1e3:.3f} ms.",
        "Top entries by own time (cProfile, 300 x compute + reset). The manager keeps every "
        "term's episode state in one stacked tensor grouped by reduction, so `compute()` is "
        "one copy per term plus one update per reduction group and `reset()` gathers, clears "
        "and summarises all terms with a fixed number of batched ops; what remains on top is "
        "mostly torch's per-op dispatch and the terms' own ops.",
    ]
    return result(
        NAME,
        TITLE,
        [],
        quick=quick,
        sizes={"num_envs": num_envs, "steps": steps},
        notes=notes,
        extra={"top": top, "compute_s": compute, "reset_s": reset, "importtime": _importtime()},
    )
