"""One rank of a 2-process CPU run (gloo) around real skrl PPO agents.

Usage: python rank_child.py RANK WORLD_SIZE TRACKING_URI INIT_FILE OUT_DIR

skrl itself would call ``init_process_group("nccl")`` at import when WORLD_SIZE > 1,
which needs GPUs; so skrl is imported first and the rank environment set afterwards,
then gloo is initialised here: pat's own rank logic is what is tested.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch

import pat_skrl_mlflow
from pat_skrl_mlflow import instrument
from skrl_mlflow_support import TensorBoardRecorder, make_runner, runner_cfg, vector_env

STD_TAG = "Reward / Instantaneous reward (mean)"
"""Also logged as ``<key>/std``: merged across ranks, it is the std of both ranks' values."""


def _train(rank: int, uri: str, aggregate: bool) -> dict:
    env = vector_env("Pendulum-v1", num_envs=2, max_episode_steps=16)
    cfg = runner_cfg("PPO", directory="runs", timesteps=64, write_interval=16, seed=rank + 1)
    runner = make_runner(env, cfg)
    recorder = TensorBoardRecorder(runner.agent)
    handle = instrument(
        runner.agent,
        tracking_uri=uri,
        run_name="aggregated" if aggregate else "plain",
        aggregate_ranks=aggregate,
        extra_reducers={STD_TAG: ["std"]},
        log_config=False,
    )
    held = type(runner.agent.tracking_data).__name__
    runner.run()
    values_held = sum(len(v) for v in runner.agent.tracking_data.values())
    handle.close()
    return {
        "run_id": handle.run_id,
        "reduced": {str(k): v for k, v in recorder.reduced.items()},
        "windows": {str(k): v for k, v in recorder.windows.items()},
        "tracking_data_type": held,
        "values_held_after_training": values_held,
    }


def main() -> None:
    rank, world_size = int(sys.argv[1]), int(sys.argv[2])
    uri, init_file, out_dir = sys.argv[3:6]
    torch.set_num_threads(1)
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank))
    torch.distributed.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size
    )
    result = {"plain": _train(rank, uri, False), "aggregated": _train(rank, uri, True)}
    result["version"] = pat_skrl_mlflow.__version__
    Path(out_dir, f"rank{rank}.json").write_text(json.dumps(result))
    # gloo can abort a rank ("terminate called without an active exception") that tears its
    # process group down while its peer is still finishing; meet first, then both tear down
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
