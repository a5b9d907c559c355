"""Train a small PPO and end the process one way; pat must still store every point.

Usage: python exit_child.py MODE TRACKING_URI RUN_NAME
MODE: normal | exception | keyboard | sigterm. The trigger fires right after the
window of step TRIGGER_STEP was emitted, with BURST points still queued.
"""

from __future__ import annotations

import os
import signal
import sys

import torch

from pat_skrl_mlflow import instrument
from skrl_mlflow_support import make_runner, runner_cfg, vector_env

TRIGGER_STEP = 40
BURST = 3_000


def train(mode: str, uri: str, run_name: str) -> None:
    """Train; ``normal`` stops at TRIGGER_STEP, the other modes end the process there."""
    torch.set_num_threads(1)
    env = vector_env("Pendulum-v1", num_envs=4, max_episode_steps=15)
    timesteps = TRIGGER_STEP if mode == "normal" else 1000
    cfg = runner_cfg("PPO", directory="runs", timesteps=timesteps, write_interval=10)
    runner = make_runner(env, cfg)
    agent = runner.agent
    handle = instrument(agent, interval=10, tracking_uri=uri, run_name=run_name, log_config=False)
    instrumented = agent.post_interaction

    def post_interaction(*, timestep: int, timesteps: int) -> None:
        if timestep + 1 == TRIGGER_STEP - 1:  # tracked now, logged in the window of step 40
            for i in range(BURST):
                agent.track_data(f"Burst / {i}", float(i))
        instrumented(timestep=timestep, timesteps=timesteps)
        if timestep + 1 == TRIGGER_STEP:
            if mode == "exception":
                raise RuntimeError("training failed")
            if mode == "keyboard":
                raise KeyboardInterrupt
            if mode == "sigterm":
                os.kill(os.getpid(), signal.SIGTERM)

    agent.post_interaction = post_interaction
    runner.run()
    if mode == "normal":
        handle.close()


if __name__ == "__main__":
    train(*sys.argv[1:4])
