"""Train PPO on CartPole-v1, logging through a proxy the test switches to faults mid-run.

Usage: python fault_child.py TRACKING_URI WORKDIR [TIMESTEPS]

Test-only hooks (files in WORKDIR): every point pat hands to its sender is appended to
``produced.jsonl`` first (the independent record: key, value, step, timestamp); at step
FAULT_AT the child flushes, writes ``fault-now`` (holding the spool directory) and trains
on, at most 100 steps/s, while the test injects a fault; HOLD_AT steps before the end it
waits (at most 180 s) for ``resume``, so the fault and the recovery both happen before
``close()``.
``steps.json`` holds the wall-clock time of every trainer step and the hold;
``result.json`` the run id, the spool's counters and how long ``close()`` took.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from pat_skrl_mlflow import instrument
from skrl_mlflow_support import make_runner, runner_cfg, vector_env

FAULT_AT = 100
HOLD_BEFORE_END = 50
# From FAULT_AT on, a step takes at least this long, so training outlasts the fault on a
# fast, quiet machine too (1,350 paced steps >= 13.5 s; the fault lasts 8 s)
MIN_STEP_SECONDS = 0.01


def main(uri: str, workdir: str, timesteps: str = "1000") -> None:
    """Train with the hooks described above."""
    torch.set_num_threads(1)
    work = Path(workdir)
    total = int(timesteps)
    env = vector_env("CartPole-v1", num_envs=8)
    cfg = runner_cfg(
        "PPO", directory=str(work / "runs"), timesteps=total, discrete=True, write_interval=0
    )
    runner = make_runner(env, cfg)
    agent = runner.agent
    handle = instrument(agent, interval="step", tracking_uri=uri, log_config=False)
    assert handle.sender is not None
    sink: Any = handle.sender.sink  # pat's SpoolingSink
    produced = (work / "produced.jsonl").open("a")
    submit = handle.sender.submit

    def recording_submit(points):  # type: ignore[no-untyped-def]
        lines = (json.dumps([p.key, p.value, p.step, p.timestamp_ms]) + "\n" for p in points)
        produced.write("".join(lines))
        produced.flush()
        submit(points)

    handle.sender.submit = recording_submit  # type: ignore[method-assign]
    step_times: list[float] = []
    hold: list[float] = []
    instrumented = agent.post_interaction

    def post_interaction(*, timestep: int, timesteps: int) -> None:
        instrumented(timestep=timestep, timesteps=timesteps)
        step = timestep + 1
        if step > FAULT_AT and step_times:
            time.sleep(max(0.0, MIN_STEP_SECONDS - (time.time() - step_times[-1])))
        step_times.append(time.time())
        if step == FAULT_AT:
            handle.flush(60)  # what came before the fault went straight to the store
            (work / "fault-now").write_text(str(sink.spool.directory))
        if step == total - HOLD_BEFORE_END:
            hold.append(time.time())
            deadline = time.monotonic() + 180
            while not (work / "resume").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            hold.append(time.time())

    agent.post_interaction = post_interaction
    began = time.monotonic()
    runner.run()
    trained = time.monotonic() - began
    closing = time.time()
    handle.close()
    closed = time.time()
    produced.close()
    (work / "steps.json").write_text(json.dumps({"times": step_times, "hold": hold}))
    _write_result(work, handle, trained, closing, closed)


def _write_result(work: Path, handle: Any, trained: float, closing: float, closed: float) -> None:
    stats = handle.sender.sink.stats
    sender = handle.sender.stats
    result = {
        "run_id": handle.run_id,
        "trained_seconds": trained,
        "close_started": closing,
        "close_seconds": closed - closing,
        "spooled": stats.spooled,
        "delivered_from_spool": stats.delivered_from_spool,
        "waiting": stats.waiting,
        "outages": stats.outages,
        "spool": str(stats.spool),
        "sender": {"failed": sender.failed, "dropped": sender.dropped, "rejected": sender.rejected},
    }
    (work / "result.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main(*sys.argv[1:4])
