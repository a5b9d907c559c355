"""Benchmark 5: ``pat train`` vs Isaac Lab's own skrl training, Isaac-Cartpole, 256 envs, CPU.

Whole processes, interleaved in pairs whose order alternates (pat, Isaac Lab, Isaac Lab,
pat, ...) so that a drift of the machine's speed favours neither: wall time, CPU time (less moved by
other processes on a shared machine), the wall time of the training loop alone (skrl's
``Runner.run``, timed on both sides by ``loop_timer/sitecustomize.py``) and of the rest of the
process, and the learning curve
(``Reward / Total reward (mean)`` per logged timestep) of each, pat's from the MLflow sqlite
store it writes in its working directory, Isaac Lab's from the TensorBoard events its skrl
script writes under ``logs/skrl/``. Every process runs in its own temporary directory.

Isaac Lab's script loads the task's USD files from NVIDIA's asset server; both sides load
pat's packaged stand-ins instead, from one directory laid out like that server's asset root
(``ISAACSIM_ASSET_ROOT``), so they read identical files and neither probes a server. The
warm-up pair trains one rollout each (Warp's kernel cache, bytecode, page cache) and is
discarded.
"""

from __future__ import annotations

import math
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import yaml
from _common import BIN, Row, bytecode_env, children_cpu, median, paired_ratio, result

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

NAME = "train_isaaclab"
TITLE = "5. `pat train` vs Isaac Lab's skrl training (Isaac-Cartpole, 256 envs, CPU)"
GOAL = 1.05
NUM_ENVS = 256
SEED = 42  # the task's skrl config's own seed, passed to both so both seed env and agent
ROLLOUTS = 16  # the task's skrl config: timesteps per PPO update
PAT_KEY = "episode_reward_mean"  # pat's MLflow key for skrl's "Reward / Total reward (mean)"
SKRL_TAG = "Reward / Total reward (mean)"
TIMEOUT_S = 1800
LOOP_TIMER = Path(__file__).parent / "loop_timer"  # a sitecustomize timing skrl's Runner.run
PAIRS_VARIABLE = "PAT_BENCH_TRAIN_PAIRS"
"""Timed pairs in full mode (default 8: single pairs differ by up to 20 % on 2 shared cores)."""
FULL_PAIRS = 8

PAT_CMD = [
    str(BIN / "pat"), "train", "--task", "Isaac-Cartpole-v0", "--num-envs", str(NUM_ENVS),
    "--device", "cpu", "--seed", str(SEED),
]  # fmt: skip
LAB_CMD = [
    str(BIN / "isaaclab"), "train", "--rl_library", "skrl", "--task", "Isaac-Cartpole",
    "--num_envs", str(NUM_ENVS), "--device", "cpu", "--seed", str(SEED),
]  # fmt: skip
WARMUP_ARGS = {"pat": ["--timesteps", str(ROLLOUTS)], "isaaclab": ["--max_iterations", "1"]}

Curve = list[tuple[int, float]]


def pat_curve(cwd: Path) -> Curve:
    """Return the mean episode return per logged step of the latest run in ``cwd/mlflow.db``."""
    with sqlite3.connect(f"file:{cwd / 'mlflow.db'}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT step, value FROM metrics WHERE key = ? AND run_uuid = "
            "(SELECT run_uuid FROM runs ORDER BY start_time DESC LIMIT 1) ORDER BY step",
            (PAT_KEY,),
        ).fetchall()
    return [(int(step), float(value)) for step, value in rows]


def tensorboard_curve(cwd: Path) -> Curve:
    """Return skrl's own mean episode return per logged step, from its TensorBoard events.

    Both sides keep skrl's writer (Isaac Lab's under ``logs/skrl/``, pat's under ``runs/``),
    which averages over the same windows (its ``write_interval``) on both.
    """
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = sorted(cwd.glob("*/**/events.out.tfevents.*"))
    if not events:
        return []
    accumulator = EventAccumulator(str(events[-1].parent), size_guidance={"scalars": 0})
    accumulator.Reload()
    if SKRL_TAG not in accumulator.Tags()["scalars"]:
        return []
    return [(int(event.step), float(event.value)) for event in accumulator.Scalars(SKRL_TAG)]


CURVES: dict[str, tuple[str, Callable[[Path], Curve]]] = {
    "pat_mlflow": ("pat", pat_curve),
    "pat_tensorboard": ("pat", tensorboard_curve),
    "isaaclab_tensorboard": ("isaaclab", tensorboard_curve),
}
"""Learning curves read after each run: which side's directory, and how."""


class Timing(NamedTuple):
    """Seconds of one whole process: wall, CPU (user + system), and its training loop's wall."""

    wall: float
    cpu: float
    loop: float


def _run(command: list[str], cwd: Path, env: Mapping[str, str]) -> Timing:
    """Time one whole process in ``cwd``; raises with the tail of its output if it fails."""
    cwd.mkdir(parents=True, exist_ok=True)
    loop_file = cwd / "loop_seconds.txt"
    env = {**env, "PAT_BENCH_LOOP_FILE": str(loop_file)}
    before = children_cpu()
    start = time.perf_counter()
    done = subprocess.run(
        command,
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    elapsed = time.perf_counter() - start
    cpu = children_cpu() - before
    (cwd / "output.txt").write_text(done.stdout + done.stderr)
    if done.returncode:
        tail = (done.stdout + done.stderr)[-2000:]
        raise RuntimeError(f"{command[0]} exited with {done.returncode}:\n{tail}")
    loops = loop_file.read_text().split() if loop_file.exists() else []
    return Timing(elapsed, cpu, float(loops[-1]) if loops else math.nan)


def _agent_cfg_difference(lab_dir: Path) -> list[str]:
    """Where pat's agent config of the task differs from the one Isaac Lab's run dumped.

    Both scripts set the trainer's timesteps, the seed and the experiment directory; pat
    also turns the trainer's progress bar off. Everything else must be the same file.
    """
    from pat_env_metrics.kitless import load_agent_cfg

    dumped = sorted(lab_dir.glob("logs/skrl/*/*/params/agent.yaml"))
    if not dumped:
        return ["Isaac Lab's run dumped no params/agent.yaml"]
    theirs = yaml.safe_load(dumped[-1].read_text())
    ours = load_agent_cfg("Isaac-Cartpole", "skrl")
    for cfg in (theirs, ours):
        cfg.pop("seed", None)
        cfg["agent"].pop("experiment", None)
        for key in ("timesteps", "close_environment_at_exit", "headless", "disable_progressbar"):
            cfg["trainer"].pop(key, None)
    return [
        f"{section}: pat {ours.get(section)!r} vs Isaac Lab {theirs.get(section)!r}"
        for section in sorted(set(ours) | set(theirs))
        if ours.get(section) != theirs.get(section)
    ]


def _curve_gap(pat: Curve, lab: Curve) -> float | None:
    """Largest absolute difference between the two curves at the steps both logged."""
    theirs = dict(lab)
    gaps = [abs(value - theirs[step]) for step, value in pat if step in theirs]
    return max(gaps) if gaps else None


def run(quick: bool) -> dict[str, Any]:
    """Quick mode: one timed pair; full mode: eight. Each after a discarded one-rollout pair."""
    repeats = 1 if quick else int(os.environ.get(PAIRS_VARIABLE, FULL_PAIRS))
    sizes = {"num_envs": NUM_ENVS, "timesteps": "the task's (2400)", "pairs": repeats}
    from pat_env_metrics.kitless import isaaclab_available

    if not isaaclab_available():
        row = Row("`pat train`", None, "`isaaclab train`", None, "s", goal=f"ratio <= {GOAL}")
        notes = ["Not run: Isaac Lab is not installed (`pat setup isaaclab`)."]
        return result(NAME, TITLE, [row], quick=quick, sizes=sizes, notes=notes, status="not run")
    return _measure(repeats, quick, sizes)


def _measure(repeats: int, quick: bool, sizes: dict[str, Any]) -> dict[str, Any]:
    from pat_env_metrics.kitless import write_asset_root_mirror

    commands = {"pat": PAT_CMD, "isaaclab": LAB_CMD}
    samples: dict[str, list[float]] = {"pat": [], "isaaclab": []}
    cpu: dict[str, list[float]] = {"pat": [], "isaaclab": []}
    loops: dict[str, list[float]] = {"pat": [], "isaaclab": []}
    curves: dict[str, list[Curve]] = {key: [] for key in CURVES}
    with tempfile.TemporaryDirectory(prefix="pat-bench-train-") as tmp:
        root = write_asset_root_mirror(Path(tmp) / "assets")
        env = bytecode_env(str(Path(tmp) / "pycache"))
        env["ISAACSIM_ASSET_ROOT"] = str(root)
        env.pop("PAT_OFFLINE_ASSETS", None)  # the asset root decides, on both sides
        env.setdefault("OMP_NUM_THREADS", "1")  # pat's own CPU default, for Isaac Lab too
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(LOOP_TIMER), env.get("PYTHONPATH")]))
        for name, command in commands.items():
            _run(command + WARMUP_ARGS[name], Path(tmp) / f"warmup-{name}", env)
        store = Path(tmp) / "warmup-pat" / "mlflow.db"
        for index in range(repeats):
            order = ["pat", "isaaclab"] if index % 2 == 0 else ["isaaclab", "pat"]
            for name in order:
                command = commands[name]
                cwd = Path(tmp) / f"{name}-{index}"
                if name == "pat":  # an existing store, as from the second run on: see notes
                    cwd.mkdir()
                    shutil.copyfile(store, cwd / "mlflow.db")
                timing = _run(command, cwd, env)
                samples[name].append(timing.wall)
                cpu[name].append(timing.cpu)
                loops[name].append(timing.loop)
                for key, (side, read) in CURVES.items():
                    if side == name:
                        curves[key].append(read(cwd))
        config_difference = _agent_cfg_difference(Path(tmp) / "isaaclab-0")
    return _document(
        quick,
        sizes=sizes,
        samples=samples,
        cpu=cpu,
        loops=loops,
        curves=curves,
        config_difference=config_difference,
        threads=env["OMP_NUM_THREADS"],
    )


def _sides_row(figure: str, baseline: str, seconds: dict[str, list[float]], note: str) -> Row:
    """A row without a goal: the median of pat's ``seconds`` against Isaac Lab's."""
    return Row(
        figure,
        median(seconds["pat"]),
        baseline,
        median(seconds["isaaclab"]),
        "s",
        samples=seconds["pat"],
        baseline_samples=seconds["isaaclab"],
        note=note,
    )


def _finals(curves: list[Curve]) -> list[float | None]:
    return [round(curve[-1][1], 3) if curve else None for curve in curves]


def _document(
    quick: bool,
    *,
    sizes: dict[str, Any],
    samples: dict[str, list[float]],
    cpu: dict[str, list[float]],
    loops: dict[str, list[float]],
    curves: dict[str, list[Curve]],
    config_difference: list[str],
    threads: str,
) -> dict[str, Any]:
    pat, lab = median(samples["pat"]), median(samples["isaaclab"])
    gaps = [
        _curve_gap(ours, theirs)
        for ours, theirs in zip(
            curves["pat_tensorboard"], curves["isaaclab_tensorboard"], strict=True
        )
    ]
    ratio = paired_ratio(samples["pat"], samples["isaaclab"])
    row = Row(
        "`pat train --task Isaac-Cartpole-v0 --num-envs 256` (whole process)",
        pat,
        "`isaaclab train --rl_library skrl --task Isaac-Cartpole --num_envs 256 --device cpu`",
        lab,
        "s",
        goal=f"ratio <= {GOAL}",
        met=None if math.isnan(ratio) else ratio <= GOAL,
        ratio=ratio,
        samples=samples["pat"],
        baseline_samples=samples["isaaclab"],
        note=f"ratio: the median of the pairs' pat / Isaac Lab ratios (as benchmark 1); the "
        f"ratio of the medians is {pat / lab:.3g}. Final mean return: pat "
        f"{_finals(curves['pat_tensorboard'])}, Isaac Lab "
        f"{_finals(curves['isaaclab_tensorboard'])} (skrl's TensorBoard); pat's MLflow "
        f"episode_reward_mean {_finals(curves['pat_mlflow'])} (per-rollout windows)",
    )
    outside = {
        name: [wall - loop for wall, loop in zip(samples[name], loops[name], strict=True)]
        for name in samples
    }
    detail_rows = [
        _sides_row(
            "CPU seconds (user + system) of the same `pat train` processes",
            "the same `isaaclab train` processes",
            cpu,
            "less sensitive than wall time to other processes on the machine",
        ),
        _sides_row(
            "the training loop of the same `pat train` processes (skrl's `Runner.run`)",
            "the training loop of the same `isaaclab train` processes",
            loops,
            "pat's env metrics, progress bar and MLflow capture run inside it",
        ),
        _sides_row(
            "the rest of the same `pat train` processes (whole minus loop)",
            "the rest of the same `isaaclab train` processes",
            outside,
            "start-up, task resolution, env and agent creation, the run's creation and end "
            "(pat: by its store writer process, which imports MLflow meanwhile), teardown",
        ),
    ]
    largest_gap = max((g for g in gaps if g is not None), default=None)
    notes = [
        f"Whole processes, interleaved, {len(samples['pat'])} pair(s) (pat first in the "
        "1st, 3rd, ... pair, Isaac Lab first in the others) after a discarded warm-up pair "
        "that trains one rollout each; each process in its own temporary directory. "
        f"Pairs in full mode: {PAIRS_VARIABLE} (default {FULL_PAIRS}).",
        "Both load the same files: pat's packaged stand-ins (newton's cart-pole, a "
        "collision-only ground plane) written as an asset root and named by "
        "`ISAACSIM_ASSET_ROOT` (Isaac Lab's own script cannot reach NVIDIA's asset server "
        "here).",
        f"Both: `--seed {SEED}` (the task config's own seed; it seeds env and agent), "
        f"`OMP_NUM_THREADS={threads}` (one torch CPU thread, pat's CPU default), the task's "
        "2400 timesteps, skrl's TensorBoard writer and checkpoints. pat also computes its "
        "env-side metrics and sends everything to MLflow (sqlite in the working directory); "
        "Isaac Lab draws a progress bar.",
        "pat's MLflow store (`./mlflow.db`) exists before each timed run (a copy of the one "
        "the warm-up run created), as it does from a user's second run in a directory on: "
        "creating a new sqlite store runs MLflow's ~70 alembic migrations, a one-time "
        "~2 s (about 1.7 s measured at load 3, without the MLflow import).",
        "Agent config: "
        + (
            "pat's `load_agent_cfg` and Isaac Lab's dumped `params/agent.yaml` are the same "
            "(seed, timesteps and experiment directory aside)."
            if not config_difference
            else "differs: " + "; ".join(config_difference)
        ),
        "Learning curve: skrl's `Reward / Total reward (mean)` from each side's TensorBoard "
        "events (the same averaging windows); largest gap between pat's and Isaac Lab's at "
        f"the same timestep: {largest_gap if largest_gap is None else round(largest_gap, 4)}. "
        "Every curve, pat's MLflow `episode_reward_mean` too, is in the JSON's `extra`.",
    ]
    extra = {"curves": curves, "curve_gaps": gaps, "agent_cfg_difference": config_difference}
    rows = [row, *detail_rows]
    return result(NAME, TITLE, rows, quick=quick, sizes=sizes, notes=notes, extra=extra)
