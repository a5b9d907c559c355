"""Benchmark 5: ``pat train`` vs Isaac Lab's own skrl training, Isaac-Cartpole, 256 envs, CPU.

Whole-process wall time, interleaved, and the final ``Reward / Total reward (mean)``:
pat's from its MLflow run, Isaac Lab's from the TensorBoard events skrl writes. Full mode
only (each process takes minutes on a 2-core CPU). Isaac Lab's script loads the task's
assets from NVIDIA's server (or ``ISAACSIM_ASSET_ROOT``); pat substitutes packaged
stand-ins when that server is unreachable, Isaac Lab does not.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import BIN, Row, bytecode_env, median, result

NAME = "train_isaaclab"
TITLE = "5. `pat train` vs Isaac Lab's skrl training (Isaac-Cartpole, 256 envs, CPU)"
GOAL = 1.05


def _timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True, timeout=1800)
    return time.perf_counter() - start


def _pat_return(cwd: Path) -> float | None:
    answer = subprocess.run(
        [str(BIN / "pat"), "inspect", "metrics", "--json", "--key", "episode_reward_mean"],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    rows = json.loads(answer.stdout)
    rows = rows.get("metrics", rows) if isinstance(rows, dict) else rows
    return float(rows[0]["last"]) if rows else None


def _isaaclab_return(cwd: Path) -> float | None:
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        return None
    events = sorted(cwd.glob("logs/skrl/**/events.out.tfevents.*"))
    if not events:
        return None
    accumulator = EventAccumulator(str(events[-1].parent))
    accumulator.Reload()
    scalars = accumulator.Scalars("Reward / Total reward (mean)")
    return float(scalars[-1].value) if scalars else None


def run(quick: bool) -> dict[str, Any]:
    """Not run in quick mode; in full mode 5 interleaved pairs of whole processes."""
    sizes = {"num_envs": 256, "timesteps": "the task's (2400)", "repeats": 5}
    if quick:
        row = Row(
            "`pat train --task Isaac-Cartpole-v0 --num-envs 256`",
            None,
            "`isaaclab train --rl_library skrl`",
            None,
            "s",
            goal=f"ratio <= {GOAL}",
            note="full mode only",
        )
        notes = [
            "Not run: full mode only (12 processes of 1-3 min each on this machine).",
            "Isaac Lab's own script loads the task's USD assets from NVIDIA's server (or "
            "ISAACSIM_ASSET_ROOT); where that server is unreachable (as here) it fails, while "
            "pat substitutes packaged stand-ins — run it where the assets can be reached.",
        ]
        return result(NAME, TITLE, [row], quick=quick, sizes=sizes, notes=notes, status="not run")
    from pat_env_metrics.kitless import isaaclab_available

    if not isaaclab_available():
        row = Row("`pat train`", None, "`isaaclab train`", None, "s", goal=f"ratio <= {GOAL}")
        notes = ["Not run: Isaac Lab is not installed (`pat setup isaaclab`)."]
        return result(NAME, TITLE, [row], quick=quick, sizes=sizes, notes=notes, status="not run")
    return _full(sizes)


def _full(sizes: dict[str, Any]) -> dict[str, Any]:
    pat_cmd = [str(BIN / "pat"), "train", "--task", "Isaac-Cartpole-v0", "--num-envs", "256"]
    lab_cmd = [
        str(BIN / "isaaclab"), "train", "--rl_library", "skrl", "--task", "Isaac-Cartpole",
        "--num_envs", "256", "--device", "cpu",
    ]  # fmt: skip
    samples: dict[str, list[float]] = {"pat": [], "isaaclab": []}
    returns: dict[str, list[float | None]] = {"pat": [], "isaaclab": []}
    with tempfile.TemporaryDirectory(prefix="pat-bench-train-") as tmp:
        env = bytecode_env(str(Path(tmp) / "pycache"))
        for index in range(sizes["repeats"] + 1):  # round 0: warm-up (Warp cache, bytecode)
            for name, command, read in (
                ("pat", pat_cmd, _pat_return),
                ("isaaclab", lab_cmd, _isaaclab_return),
            ):
                cwd = Path(tmp) / f"{name}-{index}"
                cwd.mkdir()
                elapsed = _timed(command, cwd, env)
                if index:
                    samples[name].append(elapsed)
                    returns[name].append(read(cwd))
    pat, lab = median(samples["pat"]), median(samples["isaaclab"])
    row = Row(
        "`pat train --task Isaac-Cartpole-v0 --num-envs 256` (whole process)",
        pat,
        "`isaaclab train --rl_library skrl --task Isaac-Cartpole --num_envs 256 --device cpu`",
        lab,
        "s",
        goal=f"ratio <= {GOAL}",
        met=pat <= GOAL * lab,
        samples=samples["pat"],
        baseline_samples=samples["isaaclab"],
        note=f"final mean episode reward: pat {returns['pat']}, Isaac Lab {returns['isaaclab']}",
    )
    notes = ["Whole processes, interleaved, one discarded warm-up pair, median of 5."]
    return result(NAME, TITLE, [row], quick=False, sizes=sizes, notes=notes)
