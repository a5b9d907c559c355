"""Benchmark 4: ``pat --help`` start-up vs ``python -c pass`` and ``python -c "import torch"``."""

from __future__ import annotations

import sys
import tempfile
from typing import Any

from _common import BIN, Row, bytecode_env, interleave, median, result, run_process

NAME = "startup"
TITLE = "4. `pat --help` start-up"
GOAL_SECONDS = 0.3
GOAL_TORCH_FACTOR = 10.0


def run(quick: bool) -> dict[str, Any]:
    """Time the three commands as subprocesses, interleaved, with bytecode caching on."""
    repeats = 5 if quick else 15
    with tempfile.TemporaryDirectory(prefix="pat-bench-pycache-") as cache:
        env = bytecode_env(cache)  # users' installs have .pyc files
        commands = {
            "pat": [str(BIN / "pat"), "--help"],
            "pass": [sys.executable, "-c", "pass"],
            "torch": [sys.executable, "-c", "import torch"],
        }
        samples = interleave(
            {name: (lambda c=command: run_process(c, env)) for name, command in commands.items()},
            repeats,
            warmup=1,  # the warm-up round fills the bytecode cache
        )
    pat, bare, torch = (median(samples[k]) for k in ("pat", "pass", "torch"))
    rows = [
        Row(
            "`pat --help` wall time",
            pat,
            "`python -c pass`",
            bare,
            "s",
            goal=f"<= {GOAL_SECONDS} s",
            met=pat <= GOAL_SECONDS,
            samples=samples["pat"],
            baseline_samples=samples["pass"],
        ),
        Row(
            "`pat --help` wall time",
            pat,
            '`python -c "import torch"`',
            torch,
            "s",
            goal=f">= {GOAL_TORCH_FACTOR:g}x faster (ratio <= {1 / GOAL_TORCH_FACTOR:g})",
            met=torch / pat >= GOAL_TORCH_FACTOR,
            samples=samples["pat"],
            baseline_samples=samples["torch"],
        ),
    ]
    notes = [
        "Subprocesses, interleaved pat / pass / torch, one discarded warm-up round, "
        f"median of {repeats}.",
        "Bytecode caching on: PYTHONDONTWRITEBYTECODE unset and PYTHONPYCACHEPREFIX set to "
        "a temp dir that the warm-up round fills (this environment sets "
        "PYTHONDONTWRITEBYTECODE=1, and the venv's site-packages hold no .pyc files).",
    ]
    return result(NAME, TITLE, rows, quick=quick, sizes={"repeats": repeats}, notes=notes)
