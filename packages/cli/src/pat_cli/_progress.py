"""A Rich progress bar for a skrl training: timesteps, elapsed, ETA, latest episode reward.

The bar hooks the skrl env wrapper's ``step`` (an instance attribute; the class is untouched).
Episode returns are summed on the env's device; the host reads them only when the bar is
redrawn (a few times a second), so the training loop never waits on a per-step device sync.

The bar is redrawn from the training thread, not from Rich's refresh thread: a thread that
wakes ten times a second to take the GIL slowed skrl's torch-bound loop by 10-50 % here
(torch releases the GIL around every op, and each time the main thread must win it back).
"""

from __future__ import annotations

import functools
import math
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import torch
    from rich.console import Console

REDRAW_SECONDS = 0.25
LOG_EVERY_FRACTION = 0.1
LOG_EVERY_SECONDS = 30.0
"""Without a terminal (nohup, SLURM, CI logs) a plain line is printed every 10 % of the
timesteps or every 30 s, whichever comes first."""


class EpisodeReturns:
    """Undiscounted returns of the episodes that end, per env, kept on the env's device."""

    def __init__(self, num_envs: int, device: torch.device | str) -> None:
        import torch

        self._running = torch.zeros(num_envs, dtype=torch.float64, device=device)
        self._ended_sum = torch.zeros((), dtype=torch.float64, device=device)
        self._ended_count = torch.zeros((), dtype=torch.int64, device=device)
        self.episodes = 0
        """Episodes ended so far (updated when :meth:`pop_mean` reads the device)."""

    def update(
        self, reward: torch.Tensor, terminated: torch.Tensor, truncated: torch.Tensor
    ) -> None:
        """Add one step of every env (no host-device sync)."""
        done = (terminated | truncated).reshape(-1)
        self._running += reward.reshape(-1).to(self._running.dtype)
        self._ended_sum += (self._running * done).sum()
        self._ended_count += done.sum()
        self._running *= ~done

    def pop_mean(self) -> float | None:
        """Mean return of the episodes ended since the last call (``None`` if none); syncs."""
        count = int(self._ended_count.item())
        if count == 0:
            return None
        mean = float(self._ended_sum.item()) / count
        self.episodes += count
        self._ended_sum.zero_()
        self._ended_count.zero_()
        return mean


class TrainingProgress:
    """The progress bar of one training; use as ``with progress.running(): ...``."""

    def __init__(self, console: Console, *, total: int, description: str) -> None:
        self.total = total
        self.timestep = 0
        self.last_reward: float | None = None
        self.started = time.monotonic()
        self.elapsed = 0.0
        self._returns: EpisodeReturns | None = None
        self._next_redraw = 0.0
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("timesteps"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("episode reward {task.fields[reward]}"),
            console=console,
            transient=False,
            auto_refresh=False,  # see the module docstring
        )
        self._task = self._progress.add_task(description, total=total, reward="-")
        self._console = console
        self._plain = not console.is_terminal  # a log file: lines, not a redrawn bar
        self._next_line_at_step = 0
        self._next_line_at = 0.0

    def hook(self, env: Any) -> None:
        """Count the steps of a skrl-wrapped env and the returns of its episodes."""
        self._returns = EpisodeReturns(env.num_envs, env.device)
        env.step = self._counting(env.step)

    def _counting(self, step: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(step)
        def counted(actions: Any) -> Any:
            result = step(actions)
            _, reward, terminated, truncated, _ = result
            assert self._returns is not None
            self._returns.update(reward, terminated, truncated)
            self.timestep += 1
            now = time.monotonic()
            if self._plain:  # a line is due: read the device only then
                due = self.timestep >= self._next_line_at_step or now >= self._next_line_at
            else:
                due = now >= self._next_redraw
            if due or self.timestep >= self.total:
                self._next_redraw = now + REDRAW_SECONDS
                self._redraw()
            return result

        return counted

    def _redraw(self, *, force: bool = False) -> None:
        assert self._returns is not None
        mean = self._returns.pop_mean()
        if mean is not None:
            self.last_reward = mean
        reward = "-" if self.last_reward is None else _short(self.last_reward)
        if self._plain:
            self._log_line(reward, force=force)
            return
        self._progress.update(self._task, completed=self.timestep, reward=reward)
        self._progress.refresh()

    def _log_line(self, reward: str, *, force: bool = False) -> None:
        now = time.monotonic()
        due = force or self.timestep >= self.total
        if not due and self.timestep < self._next_line_at_step and now < self._next_line_at:
            return
        self._next_line_at_step = self.timestep + max(1, int(self.total * LOG_EVERY_FRACTION))
        self._next_line_at = now + LOG_EVERY_SECONDS
        elapsed = now - self.started
        rate = self.timestep / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.timestep) / rate if rate > 0 else math.nan
        percent = 100.0 * self.timestep / self.total if self.total else 100.0
        self._console.print(
            f"pat: {self.timestep:,}/{self.total:,} timesteps ({percent:.0f} %), "
            f"{rate:,.0f} timesteps/s, elapsed {_clock(elapsed)}, ETA {_clock(eta)}, "
            f"episode reward {reward}",
            highlight=False,
            soft_wrap=True,
        )

    @contextmanager
    def running(self) -> Iterator[None]:
        """Show the bar while the block runs; the final state stays on screen."""
        self.started = time.monotonic()
        self._next_line_at = self.started + LOG_EVERY_SECONDS
        self._next_line_at_step = self.timestep + max(1, int(self.total * LOG_EVERY_FRACTION))
        if not self._plain:
            self._progress.start()
        try:
            yield
        finally:
            self.elapsed = time.monotonic() - self.started
            if self._returns is not None and not (self._plain and self.timestep >= self.total):
                self._redraw(force=True)  # (a log file already has the last line)
            if not self._plain:
                self._progress.stop()


def _clock(seconds: float) -> str:
    if math.isnan(seconds):
        return "-"
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _short(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.4g}"
