"""Benchmark 1: training overhead of pat-skrl-mlflow (skrl PPO, instrumented vs not).

Each sample builds a fresh env and ``Runner`` (seed 42, outside the timing), then times
``instrument(...)`` + ``runner.run()`` + ``handle.close()`` against ``runner.run()`` alone.
The worst stall comes from one more instrumented run with timers around pat's hooks.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from _common import ROOT, Row, children_cpu, interleave, median, paired_ratio, result
from _server import mlflow_server

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

NAME = "training"
TITLE = "1. Training overhead of pat-skrl-mlflow"
CARTPOLE_CFG = ROOT / "packages/cli/src/pat_cli/tasks/cartpole_v1_ppo.yaml"
HOOKS = ("_on_value", "_on_infos", "_on_boundary")
ISAAC_VARIABLE = "PAT_BENCH_ISAAC_TRAINING"
"""Set it to 0 to leave out the Isaac-Cartpole variant of full mode (about 30 minutes)."""
TIMESTEPS_VARIABLE = "PAT_BENCH_TRAINING_TIMESTEPS"
"""CartPole-v1's timesteps per run (full mode 20,000: ~100 s a run on a quiet machine)."""


def _gym_env(num_envs: int) -> Any:
    import gymnasium as gym
    from gymnasium.vector import AutoresetMode
    from skrl.envs.wrappers.torch import wrap_env

    env = gym.make_vec(
        "CartPole-v1",
        num_envs=num_envs,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
    )
    env.reset(seed=42)
    return wrap_env(env, wrapper="gymnasium", verbose=False)


def _agent_cfg(base: dict[str, Any], timesteps: int, directory: Path) -> dict[str, Any]:
    cfg = yaml.safe_load(yaml.safe_dump(base))
    cfg["trainer"]["timesteps"] = timesteps
    cfg["trainer"]["close_environment_at_exit"] = False
    cfg["trainer"]["disable_progressbar"] = True
    experiment = cfg["agent"].setdefault("experiment", {})
    experiment["directory"] = str(directory)
    experiment["checkpoint_interval"] = 0
    return cfg


class _Trainer:
    """Builds runners on one kind of env and trains them with or without pat."""

    def __init__(self, make_env: Callable[[], Any], cfg: dict[str, Any], root: Path) -> None:
        self.make_env = make_env
        self.cfg = cfg
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.template = root / "template.db"
        from mlflow import MlflowClient

        MlflowClient(f"sqlite:///{self.template}").search_experiments()
        self.count = 0
        self.totals: list[float] = []  # instrumented: instrument() + run() + close()
        # the training thread's CPU time in runner.run(), per labelled variant
        self.cpu: dict[str, list[float]] = collections.defaultdict(list)

    def _runner(self) -> tuple[Any, Any, Path]:
        from skrl.utils.runner.torch import Runner

        self.count += 1
        directory = self.root / f"sample-{self.count}"
        directory.mkdir()
        env = self.make_env()
        runner = Runner(env, _agent_cfg(self.cfg, self.cfg["trainer"]["timesteps"], directory))
        return runner, env, directory

    def plain(self, label: str | None = None) -> float:
        runner, _, _ = self._runner()
        start, cpu = time.perf_counter(), time.thread_time()
        runner.run()
        if label:
            self.cpu[label].append(time.thread_time() - cpu)
        return time.perf_counter() - start

    def instrumented(self, server: str | None = None, label: str | None = None) -> float:
        """Train with pat: a fresh sqlite store per sample, or a run on ``server`` (HTTP)."""
        from pat_skrl_mlflow import instrument

        runner, _, directory = self._runner()
        if server is None:
            store = directory / "mlflow.db"
            shutil.copyfile(self.template, store)  # schema creation is a one-off, not per run
        start = time.perf_counter()
        handle = instrument(
            runner.agent,
            interval="rollout",
            tracking_uri=server or f"sqlite:///{store}",
            run="new",
        )
        loop_start, cpu = time.perf_counter(), time.thread_time()
        runner.run()
        loop = time.perf_counter() - loop_start
        if label:
            self.cpu[label].append(time.thread_time() - cpu)
        summary = handle.close()
        if server is None:
            self.totals.append(time.perf_counter() - start)
        assert summary.points_logged > 0, summary
        return loop


def _cpu_rows(label: str, cpu: dict[str, list[float]]) -> list[Row]:
    """The training thread's CPU time in the loop: waiting for a core is left out."""
    plain = cpu["plain"]
    rows = []
    for name, what in (
        ("pat", "instrumented (rollout, sqlite)"),
        ("pat_http", "instrumented (rollout, HTTP)"),
        ("plain_again", "not instrumented, a second time (A/A)"),
    ):
        rows.append(
            Row(
                f"{label}: training thread's CPU time in the loop, {what}",
                median(cpu[name]),
                "not instrumented",
                median(plain),
                "s",
                ratio=paired_ratio(cpu[name], plain),
                samples=cpu[name],
                baseline_samples=plain,
                note="the same runs as the loop rows; the time the thread waited for a core "
                "(other processes, pat's writer process) is not in it",
            )
        )
    return rows


@functools.cache
def _timings() -> dict[str, list[float]]:
    return {name: [] for name in HOOKS}


@contextlib.contextmanager
def _timed_hooks() -> Iterator[None]:
    """Wrap Instrumentation's hook callbacks with timers (class level, before instrument)."""
    from pat_skrl_mlflow import Instrumentation

    saved = {name: getattr(Instrumentation, name) for name in HOOKS}

    def wrap(name: str, original: Callable[..., None]) -> Callable[..., None]:
        times = _timings()[name]

        def timed(self: Any, *args: Any) -> None:
            start = time.perf_counter()
            original(self, *args)
            times.append(time.perf_counter() - start)

        return timed

    for name, original in saved.items():
        setattr(Instrumentation, name, wrap(name, original))
    try:
        yield
    finally:
        for name, original in saved.items():
            setattr(Instrumentation, name, original)


@contextlib.contextmanager
def _store_process_off() -> Iterator[None]:
    """``PAT_STORE_PROCESS=0``: MLflow's requests on pat's sender thread (HTTP before issue 19)."""
    saved = os.environ.get("PAT_STORE_PROCESS")
    os.environ["PAT_STORE_PROCESS"] = "0"
    try:
        yield
    finally:
        if saved is None:
            del os.environ["PAT_STORE_PROCESS"]
        else:
            os.environ["PAT_STORE_PROCESS"] = saved


def _stall(trainer: _Trainer, server: str | None = None) -> tuple[dict[str, Any], dict[str, float]]:
    """One more instrumented run with timers around pat's hooks, and its threads' CPU."""
    for times in _timings().values():
        times.clear()
    with _timed_hooks():
        main_cpu, process_cpu = time.thread_time(), time.process_time()
        writer_cpu_before = children_cpu()
        loop = trainer.instrumented(server)
        main_cpu = time.thread_time() - main_cpu
        other_cpu = time.process_time() - process_cpu - main_cpu
        writer_cpu = children_cpu() - writer_cpu_before  # close() waited for pat's store writer
    stats: dict[str, Any] = {}
    for name, times in _timings().items():
        ordered = sorted(times)
        stats[name] = {
            "calls": len(times),
            "total_s": sum(times),
            "max_s": ordered[-1] if ordered else 0.0,
            "p99_s": ordered[int(0.99 * (len(ordered) - 1))] if ordered else 0.0,
        }
    # thread_time/process_time include instrument() and close() too: an upper bound
    return stats, {
        "loop_s": loop,
        "main_cpu_s": main_cpu,
        "other_threads_cpu_s": other_cpu,
        "writer_process_cpu_s": writer_cpu,
        "outside_training_thread_cpu_s": other_cpu + writer_cpu,
    }


def _loop_rows(label: str, samples: dict[str, list[float]]) -> list[Row]:
    plain = samples["plain"]
    rows = []
    for name, what in (
        ("pat", "instrumented (rollout, sqlite)"),
        ("pat_http", "instrumented (rollout, local `mlflow server` over HTTP)"),
    ):
        ratio = paired_ratio(samples[name], plain)
        rows.append(
            Row(
                f"{label}: training loop (`runner.run()`), {what}",
                median(samples[name]),
                "not instrumented",
                median(plain),
                "s",
                goal="ratio <= 1.02",
                met=ratio <= 1.02,
                ratio=ratio,
                samples=samples[name],
                baseline_samples=plain,
                note="ratio: median of the rounds' pat / not-instrumented ratios",
            )
        )
    rows.append(
        Row(
            f"{label}: training loop, not instrumented, a second time (A/A)",
            median(samples["plain_again"]),
            "not instrumented",
            median(plain),
            "s",
            ratio=paired_ratio(samples["plain_again"], plain),
            samples=samples["plain_again"],
            baseline_samples=plain,
            note="identical runs: how far a ratio moves on this machine with nothing changed",
        )
    )
    return rows


def _variant(
    label: str, trainer: _Trainer, repeats: int, server: str
) -> tuple[list[Row], dict[str, Any]]:
    samples = interleave(
        {
            "pat": functools.partial(trainer.instrumented, None, "pat"),
            "pat_http": functools.partial(trainer.instrumented, server, "pat_http"),
            "plain": functools.partial(trainer.plain, "plain"),
            "plain_again": functools.partial(trainer.plain, "plain_again"),
        },
        repeats,
        shuffle_seed=42,
    )
    totals = trainer.totals[-repeats:]
    stall, run = _stall(trainer)
    _, http = _stall(trainer, server)
    with _store_process_off():
        _, http_thread = _stall(trainer, server)
    worst = max(stall.values(), key=lambda s: s["max_s"])
    worst_name = next(n for n, s in stall.items() if s is worst)
    in_hooks = sum(s["total_s"] for s in stall.values())
    rows = _loop_rows(label, samples)
    rows += _cpu_rows(label, {name: cpu[-repeats:] for name, cpu in trainer.cpu.items()})
    rows += [
        Row(
            f"{label}: whole, with `instrument()` + `close()`",
            median(totals),
            "not instrumented",
            median(samples["plain"]),
            "s",
            ratio=paired_ratio(totals, samples["plain"]),
            samples=totals,
            baseline_samples=samples["plain"],
            note="adds pat's fixed start/end cost (run creation, params, flush)",
        ),
        Row(
            f"{label}: time in pat's code on the training thread (one instrumented run)",
            in_hooks,
            "that run's training loop",
            run["loop_s"],
            "s",
            note="capture of tracked values, env info, window ends (reduce + submit); "
            "a share of the loop, not a ratio to a baseline",
        ),
        Row(
            f"{label}: CPU outside the training thread (pat's sender thread, pat's store "
            "writer process: MLflow's sqlite writes)",
            run["outside_training_thread_cpu_s"],
            "that run's training loop",
            run["loop_s"],
            "s",
            note="from `instrument()` to `close()`; sender thread "
            f"{run['other_threads_cpu_s']:.2f} s, writer process "
            f"{run['writer_process_cpu_s']:.2f} s (with its start-up: MLflow's import, the "
            "store's opening); a share of the loop, on another core",
        ),
        Row(
            f"{label}: CPU outside the training thread over HTTP (pat's sender thread, pat's "
            "store writer process: MLflow's requests)",
            http["outside_training_thread_cpu_s"],
            "that run's training loop",
            http["loop_s"],
            "s",
            note="one run; in the training process (sender thread) "
            f"{http['other_threads_cpu_s']:.2f} s, writer process "
            f"{http['writer_process_cpu_s']:.2f} s (with MLflow's import)",
        ),
        Row(
            f"{label}: CPU outside the training thread over HTTP with `PAT_STORE_PROCESS=0` "
            "(MLflow's requests on pat's sender thread, as before issue 19)",
            http_thread["outside_training_thread_cpu_s"],
            "that run's training loop",
            http_thread["loop_s"],
            "s",
            note="one run; all of it in the training process, competing for its GIL",
        ),
        Row(
            f"{label}: worst stall in pat's hooks (one call, `{worst_name}`)",
            worst["max_s"],
            "median training time",
            median(samples["plain"]),
            "s",
            note=f"p99 of `{worst_name}` calls: {worst['p99_s'] * 1e3:.2f} ms",
        ),
    ]
    return rows, {**stall, "run": run, "run_http": http, "run_http_sender_thread": http_thread}


def run(quick: bool) -> dict[str, Any]:
    """CartPole-v1 (gymnasium vector, 64 envs); Isaac-Cartpole in full mode when installed."""
    import torch

    warnings.filterwarnings("ignore", message=".*render method.*")
    torch.set_num_threads(1)
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    timesteps = 500 if quick else int(os.environ.get(TIMESTEPS_VARIABLE) or 20_000)
    repeats = 5
    base = yaml.safe_load(CARTPOLE_CFG.read_text())
    base["trainer"]["timesteps"] = timesteps
    rows: list[Row] = []
    stalls: dict[str, Any] = {}
    notes = [
        f"skrl PPO (pat's CartPole-v1 config: rollouts 32, 8 epochs x 4 mini-batches), 64 envs "
        f"(gymnasium sync vector env, same-step autoreset) x {timesteps:,} timesteps, seed 42, "
        f"one torch thread; interleaved, {repeats} rounds after one discarded round, each "
        "round in a new seeded order of its four runs (pat on sqlite, pat over HTTP, not "
        "instrumented twice). Loop rows: medians of the runs; ratios: the median of the "
        "rounds' ratios. The second not-instrumented run (A/A) measures the noise.",
        "Instrumented time includes `instrument()` (run creation, config params and YAML) and "
        "`close()` (last window, flush, run end); each sample has its own sqlite store, copied "
        "from an initialised empty one (schema creation is a one-off), written by pat's store "
        "writer process (started by `instrument()`). The HTTP variant logs "
        "to one local `mlflow server --workers 1` (sqlite backend), a new run per sample.",
        "Worst stall: the longest single call of pat's hook callbacks (capture of a tracked "
        "value, env info, window end with reduce + submit to the background sender), "
        "measured in one extra instrumented run with timers around them.",
    ]
    with (
        tempfile.TemporaryDirectory(prefix="pat-bench-training-") as tmp,
        mlflow_server(Path(tmp)) as server,
    ):
        trainer = _Trainer(lambda: _gym_env(64), base, Path(tmp) / "cartpole")
        new_rows, stalls["CartPole-v1"] = _variant("CartPole-v1, 64 envs", trainer, repeats, server)
        rows += new_rows
        isaac_rows, isaac_note = _isaac(quick, Path(tmp), repeats, stalls, server)
        rows += isaac_rows
        notes.append(isaac_note)
    return result(
        NAME,
        TITLE,
        rows,
        quick=quick,
        sizes={"num_envs": 64, "timesteps": timesteps, "repeats": repeats},
        notes=notes,
        extra={"hook_stats": stalls},
    )


def _isaac(
    quick: bool, root: Path, repeats: int, stalls: dict[str, Any], server: str
) -> tuple[list[Row], str]:
    from pat_env_metrics.kitless import isaaclab_available

    if quick:
        return [], "Isaac-Cartpole (CPU, 64 envs): not run (full mode only)."
    if os.environ.get(ISAAC_VARIABLE) == "0":
        return [], (
            f"Isaac-Cartpole (CPU, 64 envs): not run ({ISAAC_VARIABLE}=0: ~30 min more on a "
            "2-core CPU; benchmark 5 compares whole Isaac-Cartpole trainings)."
        )
    if not isaaclab_available():
        return [], "Isaac-Cartpole: not run (Isaac Lab is not installed)."
    from skrl.envs.wrappers.torch import wrap_env

    from pat_env_metrics.kitless import load_agent_cfg, make_isaaclab_env

    env = wrap_env(
        make_isaaclab_env("Isaac-Cartpole", num_envs=64, device="cpu", seed=42),
        wrapper="isaaclab",
        verbose=False,
    )
    cfg = load_agent_cfg("Isaac-Cartpole", "skrl")
    # skrl's Runner takes the device from the env (CPU here)
    trainer = _Trainer(lambda: env, cfg, root / "isaac")
    try:
        rows, stalls["Isaac-Cartpole"] = _variant(
            "Isaac-Cartpole, 64 envs, CPU", trainer, repeats, server
        )
    finally:
        env.close()
    steps = cfg["trainer"]["timesteps"]
    return rows, (
        f"Isaac-Cartpole: kitless (Newton, CPU), the task's own skrl config ({steps} timesteps), "
        "one env reused by every sample (a fresh Runner each)."
    )
