"""pat train's progress bar: drawn from the training thread, with no thread of its own."""

from __future__ import annotations

import contextlib
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


def test_without_a_terminal_plain_lines_come_every_tenth_and_at_the_end() -> None:
    """Issue 18 item 2: with output to a file nothing appeared until the end."""
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=80, color_system=None)
    progress = TrainingProgress(console, total=100, description="Task")
    env = _CountingEnv()
    progress.hook(env)
    with progress.running():
        for _ in range(100):
            env.step(torch.zeros(4, 1))
    lines = [line for line in out.getvalue().splitlines() if line.startswith("pat: ")]
    assert len(lines) == 10, lines  # every 10 % of the timesteps
    assert lines[-1].startswith("pat: 100/100 timesteps (100 %)")
    assert "ETA 0:00:00" in lines[-1]
    assert "episode reward 1" in lines[-1]
    assert "\x1b" not in out.getvalue()  # no terminal control codes in a log file


def test_an_interrupted_training_prints_where_it_stopped() -> None:
    out = io.StringIO()
    progress = TrainingProgress(Console(file=out, force_terminal=False), total=100, description="T")
    env = _CountingEnv()
    progress.hook(env)
    with contextlib.suppress(KeyboardInterrupt), progress.running():
        for _ in range(37):
            env.step(torch.zeros(4, 1))
        raise KeyboardInterrupt
    assert out.getvalue().splitlines()[-1].startswith("pat: 37/100 timesteps (37 %)")
