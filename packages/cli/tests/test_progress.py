"""pat train's progress bar: drawn from the training thread, with no thread of its own."""

from __future__ import annotations

import io
import threading

import torch
from rich.console import Console

from pat_cli._progress import TrainingProgress


class _CountingEnv:
    """The two attributes and the step signature of a skrl-wrapped env (a stand-in: the
    bar only counts steps and sums rewards; real trainings are in test_train_e2e.py)."""

    num_envs = 4
    device = "cpu"

    def step(self, actions: torch.Tensor) -> tuple[object, ...]:
        reward = torch.ones(self.num_envs, 1)
        done = torch.ones(self.num_envs, 1, dtype=torch.bool)
        return actions, reward, done, torch.zeros_like(done), {}


def test_the_bar_starts_no_thread_and_shows_the_final_state() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120, color_system=None)
    progress = TrainingProgress(console, total=3, description="Task")
    env = _CountingEnv()
    progress.hook(env)
    before = set(threading.enumerate())
    with progress.running():
        started = set(threading.enumerate()) - before
        for _ in range(3):
            env.step(torch.zeros(4, 1))
    assert started == set()  # Rich's refresh thread would contend for the GIL with training
    assert progress.timestep == 3
    assert progress.last_reward == 1.0
    assert "3/3 timesteps" in out.getvalue()
    assert "episode reward 1" in out.getvalue()
