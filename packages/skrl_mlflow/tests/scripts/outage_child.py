"""Train PPO on CartPole-v1 against a tracking server the test kills and restarts.

Usage: python outage_child.py TRACKING_URI WORKDIR [MODE [SEED]]

Test-only hooks (files in WORKDIR): every point pat hands to its sender is appended to
``produced.jsonl`` first (the independent record); at step KILL_AT the child writes
``kill-now`` and trains on; at step HOLD_AT it waits (at most 180 s) for ``resume`` so the
outage is surely mid-training. MODE ``outage`` (default) trains to the end; ``sigterm``,
``sigint`` or ``exception`` end the process at a step drawn from SEED; ``hang`` writes
``kill-now`` at KILL_AT too (the test freezes the server: it accepts connections and never
answers), trains on and at HANG_END interrupts itself (Ctrl-C), writing ``interrupted``
first, so the test can press Ctrl-C a second time while pat waits for the frozen server.
``result.json`` holds the run id and the spool's counters.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from pathlib import Path

import torch

from pat_skrl_mlflow import instrument
from skrl_mlflow_support import make_runner, runner_cfg, vector_env

TIMESTEPS = 1500
KILL_AT = 200
HOLD_AT = 900
HANG_END = 500


def main(uri: str, workdir: str, mode: str = "outage", seed: str = "0") -> None:
    """Train with the hooks described above."""
    torch.set_num_threads(1)
    work = Path(workdir)
    env = vector_env("CartPole-v1", num_envs=8)
    cfg = runner_cfg(
        "PPO", directory=str(work / "runs"), timesteps=TIMESTEPS, discrete=True, write_interval=0
    )
    runner = make_runner(env, cfg)
    agent = runner.agent
    handle = instrument(agent, interval="step", tracking_uri=uri, log_config=False)
    assert handle.sender is not None
    produced = (work / "produced.jsonl").open("a")
    submit = handle.sender.submit

    def recording_submit(points):  # type: ignore[no-untyped-def]
        produced.write("".join(json.dumps([p.key, p.value, p.step]) + "\n" for p in points))
        produced.flush()
        submit(points)

    handle.sender.submit = recording_submit  # type: ignore[method-assign]
    seeded = mode not in ("outage", "hang")
    end_at = random.Random(int(seed)).randrange(50, TIMESTEPS - 50) if seeded else -1
    instrumented = agent.post_interaction

    def post_interaction(*, timestep: int, timesteps: int) -> None:
        instrumented(timestep=timestep, timesteps=timesteps)
        step = timestep + 1
        if mode in ("outage", "hang") and step == KILL_AT:
            handle.flush(60)  # what came before the outage went straight to the store
            (work / "kill-now").write_text(str(time.time()))
        if mode == "outage" and step == HOLD_AT:
            deadline = time.monotonic() + 180
            while not (work / "resume").exists() and time.monotonic() < deadline:
                time.sleep(0.1)
        if mode == "hang" and step == HANG_END:
            _write_result(work, handle)
            (work / "interrupted").write_text(str(time.time()))
            os.kill(os.getpid(), signal.SIGINT)
        if step == end_at:
            _write_result(work, handle)
            if mode == "exception":
                raise RuntimeError("training failed")
            os.kill(os.getpid(), signal.SIGTERM if mode == "sigterm" else signal.SIGINT)

    agent.post_interaction = post_interaction
    began = time.monotonic()
    runner.run()
    trained = time.monotonic() - began
    handle.close()
    produced.close()
    _write_result(work, handle, trained)


def _write_result(work: Path, handle, trained: float | None = None) -> None:  # type: ignore[no-untyped-def]
    sink = handle.sender.sink
    stats = sink.stats
    result = {
        "run_id": handle.run_id,
        "trained_seconds": trained,
        "spooled": stats.spooled,
        "delivered_from_spool": stats.delivered_from_spool,
        "waiting": stats.waiting,
        "outages": stats.outages,
        "spool": str(stats.spool),
    }
    (work / "result.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main(*sys.argv[1:5])
