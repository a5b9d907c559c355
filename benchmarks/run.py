"""Run pat's benchmarks, write ``benchmarks/results/<name>.json``, regenerate the docs page.

Usage::

    uv run nox -s bench -- --quick          # every benchmark, small sizes (a few minutes)
    python benchmarks/run.py --only startup delivery
    python benchmarks/run.py --render       # only rewrite docs/benchmarks.md

Each benchmark is a module ``bench_<name>.py`` with ``NAME``, ``TITLE`` and
``run(quick) -> dict``. Full mode is for a quiet machine; quick mode shrinks sizes.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS, machine
from _report import render

# The order the issue lists them (`train_isaaclab`: 1 pair in quick mode, 5 in full);
# `profile` profiles env metrics' compute + reset, the path that missed its goal first;
# `profile_training` splits benchmark 1's instrumented training time by function.
BENCHMARKS = (
    "startup",
    "delivery",
    "training",
    "env_metrics",
    "inspect",
    "train_isaaclab",
    "free_env",
    "train_model",
    "spool",
    "profile",
    "profile_training",
)


def _write(name: str, document: dict[str, object]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(document, indent=2, default=str) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks asked for; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a few minutes)")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these")
    parser.add_argument("--render", action="store_true", help="only regenerate the docs page")
    parser.add_argument("--context", default="", help="a sentence about the machine's load")
    args = parser.parse_args(argv)
    if args.render:
        print(render())
        return 0
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # as `pat train` on the CPU
    # Child processes (pat's store writer) load compiled bytecode, as on a user's machine:
    # this environment sets PYTHONDONTWRITEBYTECODE and its venv holds no .pyc files.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ.setdefault("PYTHONPYCACHEPREFIX", str(Path(tempfile.gettempdir()) / "pat-pycache"))
    info = machine()
    info["mode"] = "quick" if args.quick else "full"
    info["context"] = args.context
    failures = 0
    for name in args.only or BENCHMARKS:
        module = importlib.import_module(f"bench_{name}")
        started = time.perf_counter()
        load = [round(x, 2) for x in os.getloadavg()]
        print(f"[bench] {name} ...", flush=True)
        try:
            document = module.run(args.quick)
        except Exception:
            failures += 1
            traceback.print_exc()
            continue
        document["load_average_at_start"] = load
        _write(name, document)
        print(f"[bench] {name} done in {time.perf_counter() - started:.0f} s", flush=True)
    info["load_end"] = [round(x, 2) for x in os.getloadavg()]
    if not args.only:  # a partial run keeps the machine page of the last complete one
        _write("machine", info)
    print(render())
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
