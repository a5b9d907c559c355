"""One of the load test's concurrent writers: a real skrl PPO agent instrumented by pat.

Usage: python load_child.py TRACKING_URI WORKDIR INDEX

No environment steps: the loop drives the agent's own step methods the way skrl's trainer
does (``pre_interaction``, ``track_data`` for KEYS tags, ``post_interaction``) for STEPS
timesteps, so the load is pat's logging path and nothing else. The agent is not in
training mode, so ``post_interaction`` never runs a PPO update.

Files in WORKDIR: ``ready-INDEX`` once the run exists; the loop starts when ``go`` appears
(all writers together). ``produced-INDEX.json`` is the independent record (tag -> [[step,
value], ...]); ``result-INDEX.json`` holds the run id, the tag table, pat's counters and
the timings: the longest single pat call inside the loop, the end-of-training flush and
``close()``, and the longest garbage-collector pause (a stall inside a pat call may be
the collector, triggered by whatever allocation came last).
"""

from __future__ import annotations

import gc
import json
import random
import sys
import time
from array import array
from pathlib import Path
from typing import Any

import torch

from pat_skrl_mlflow import instrument
from skrl_mlflow_support import SKRL2, make_runner, runner_cfg, vector_env

KEYS = 100
STEPS = 1000
GO_TIMEOUT = 300.0


def main(uri: str, workdir: str, index: str) -> None:
    """Write KEYS x STEPS points through pat; see the module docstring."""
    torch.set_num_threads(1)
    work = Path(workdir)
    env = vector_env("CartPole-v1", num_envs=1)
    cfg = runner_cfg(
        "PPO",
        directory=str(work / f"runs-{index}"),
        timesteps=STEPS,
        discrete=True,
        write_interval=0,
    )
    agent = make_runner(env, cfg).agent
    if not SKRL2:  # skrl 1.x has no training mode: keep the update from ever starting
        agent._learning_starts = STEPS + 1
    handle = instrument(
        agent,
        interval="step",
        tracking_uri=uri,
        experiment_name="pat-load",
        run_name=f"writer-{index}",
        log_config=False,
        log_checkpoints=False,
    )
    assert handle.sender is not None
    tags = [f"load/k{k:03d}" for k in range(KEYS)]
    rng = random.Random(int(index))
    # value at step t + 1 (skrl's TensorBoard numbering) = produced[tag][t]; arrays, not
    # lists of tuples, so the record adds nothing for the garbage collector to traverse
    produced = {tag: array("d") for tag in tags}
    gc_pauses = _time_collections()
    (work / f"ready-{index}").write_text("")
    deadline = time.monotonic() + GO_TIMEOUT
    while not (work / "go").exists():
        if time.monotonic() > deadline:
            raise SystemExit("no go signal")
        time.sleep(0.05)

    worst = [0.0, "", -1]  # [seconds, call, timestep] of the longest pat call in the loop
    worst_step = 0.0  # the most time pat's calls took within one timestep
    max_backlog = 0
    clock = time.perf_counter

    def timed(name: str, at: int, call: Any, /, *args: Any, **kwargs: Any) -> float:
        began = clock()
        call(*args, **kwargs)
        took = clock() - began
        if took > worst[0]:
            worst[:] = [took, name, at]
        return took

    first_write_at = time.time()
    for timestep in range(STEPS):
        steps = {"timestep": timestep, "timesteps": STEPS}
        in_step = timed("pre_interaction", timestep, agent.pre_interaction, **steps)
        for tag in tags:
            value = rng.random()
            produced[tag].append(value)
            in_step += timed("track_data", timestep, agent.track_data, tag, value)
        if timestep == STEPS - 1:
            break  # the last boundary ends training and awaits delivery: timed below
        in_step += timed("post_interaction", timestep, agent.post_interaction, **steps)
        worst_step = max(worst_step, in_step)
        if timestep % 10 == 0:
            max_backlog = max(max_backlog, handle.sender.stats.pending)
    last_step_at = time.time()
    began = clock()
    agent.post_interaction(timestep=STEPS - 1, timesteps=STEPS)
    final_flush = clock() - began
    began = clock()
    handle.close()
    close_seconds = clock() - began
    done_at = time.time()

    record = {tag: [[t + 1, v] for t, v in enumerate(values)] for tag, values in produced.items()}
    (work / f"produced-{index}.json").write_text(json.dumps(record))
    stats = handle.sender.stats
    spool = handle.sender.sink.stats  # type: ignore[attr-defined]
    result = {
        "run_id": handle.run_id,
        "tag_table": {tag: handle.tag_table[tag] for tag in tags},
        "submitted": stats.submitted,
        "delivered": stats.delivered,
        "rejected": stats.rejected,
        "failed": stats.failed,
        "dropped": stats.dropped,
        "requests": stats.requests,
        "last_error": stats.last_error,
        "spooled": spool.spooled,
        "delivered_from_spool": spool.delivered_from_spool,
        "waiting_in_spool": spool.waiting,
        "spool": str(spool.path),
        "outages": spool.outages,
        "first_write_at": first_write_at,
        "last_step_at": last_step_at,
        "done_at": done_at,
        "worst_call_seconds": worst[0],
        "worst_call": worst[1],
        "worst_call_timestep": worst[2],
        "worst_step_seconds": worst_step,
        "max_backlog_points": max_backlog,
        "final_flush_seconds": final_flush,
        "close_seconds": close_seconds,
        "gc_worst_pause_seconds": max(gc_pauses, default=(0.0, 0.0))[0],
        "gc_worst_pause_cpu_seconds": max(gc_pauses, default=(0.0, 0.0))[1],
        "gc_collections": len(gc_pauses),
    }
    (work / f"result-{index}.json").write_text(json.dumps(result))


def _time_collections() -> list[tuple[float, float]]:
    """(wall, thread CPU) seconds of every garbage collection from now on, as they end.

    The CPU time tells the collector's own cost apart from waiting for a shared core.
    """
    pauses: list[tuple[float, float]] = []
    began = [0.0, 0.0]

    def callback(phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            began[:] = [time.perf_counter(), time.thread_time()]
        else:
            pauses.append((time.perf_counter() - began[0], time.thread_time() - began[1]))

    gc.callbacks.append(callback)
    return pauses


if __name__ == "__main__":
    main(*sys.argv[1:4])
