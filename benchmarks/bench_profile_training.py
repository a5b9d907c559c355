"""A cProfile of benchmark 1's training loop, instrumented and not: where pat's time goes.

Both runs train the same skrl PPO agent (CartPole-v1, 64 envs, seed 42) in this process,
the not-instrumented one first. The comparison splits the instrumented run's extra time
into pat's own functions, the extra calls they make into the standard library, and the
functions both runs call equally often (the same work: any difference there is the
machine running the same code at another speed, not work pat adds).
"""

from __future__ import annotations

import cProfile
import logging
import pstats
import tempfile
import warnings
from pathlib import Path
from typing import Any

import yaml
from _common import ROOT, result
from bench_training import CARTPOLE_CFG, _gym_env, _Trainer

NAME = "profile_training"
TITLE = "benchmark 1's training loop, instrumented vs not (cProfile, CartPole-v1, 64 envs)"
TOP = 12
PAT_SOURCES = str(ROOT / "packages")

Key = tuple[str, int, str]
Entry = tuple[int, int, float, float, Any]  # pstats: calls, primitive calls, own, cumulative


def _profiled(function: Any) -> dict[Key, Entry]:
    profile = cProfile.Profile()
    profile.enable()
    function()
    profile.disable()
    return pstats.Stats(profile).stats  # type: ignore[attr-defined,no-any-return]


def _own_total(stats: dict[Key, Entry]) -> float:
    return sum(entry[2] for entry in stats.values())


def _label(key: Key) -> str:
    filename, line, function = key
    short = filename.split("site-packages/")[-1].replace(str(ROOT) + "/", "")
    return f"{short}:{line}({function})" if line else function


def _split(plain: dict[Key, Entry], pat: dict[Key, Entry]) -> dict[str, float]:
    """Own time (s) of the instrumented run minus the plain one, by kind of function."""
    split = {"pat": 0.0, "same_calls": 0.0, "more_calls": 0.0, "same_calls_plain": 0.0}
    for key, entry in pat.items():
        before = plain.get(key)
        if key[0].startswith(PAT_SOURCES):
            split["pat"] += entry[2]
        elif before is not None and before[0] == entry[0]:
            split["same_calls"] += entry[2] - before[2]
            split["same_calls_plain"] += before[2]
        else:
            split["more_calls"] += entry[2] - (before[2] if before else 0.0)
    return split


def _top(plain: dict[Key, Entry], pat: dict[Key, Entry]) -> list[str]:
    rows = []
    for key in set(plain) | set(pat):
        before, after = plain.get(key), pat.get(key)
        calls = (before[0] if before else 0, after[0] if after else 0)
        own = (before[2] if before else 0.0, after[2] if after else 0.0)
        rows.append((own[1] - own[0], calls, own, key))
    rows.sort(key=lambda row: -abs(row[0]))
    lines = ["own s: not instrumented -> instrumented (difference) | calls | function"]
    for difference, calls, own, key in rows[:TOP]:
        count = f"{calls[0]}" if calls[0] == calls[1] else f"{calls[0]} -> {calls[1]}"
        lines.append(
            f"{own[0]:8.3f} -> {own[1]:8.3f} ({difference:+.3f}) | {count} | {_label(key)}"
        )
    return lines


def run(quick: bool) -> dict[str, Any]:
    """Profile one not-instrumented and one instrumented run (after a warm-up pair)."""
    import torch

    warnings.filterwarnings("ignore", message=".*render method.*")
    torch.set_num_threads(1)
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    timesteps = 500 if quick else 4_000
    base = yaml.safe_load(CARTPOLE_CFG.read_text())
    base["trainer"]["timesteps"] = timesteps
    with tempfile.TemporaryDirectory(prefix="pat-bench-profile-") as tmp:
        trainer = _Trainer(lambda: _gym_env(64), base, Path(tmp))
        trainer.plain(), trainer.instrumented()  # imports, first-call caches
        plain = _profiled(trainer.plain)
        pat = _profiled(trainer.instrumented)
    total = {"plain": _own_total(plain), "pat": _own_total(pat)}
    split = _split(plain, pat)
    speed = (split["same_calls"] + split["same_calls_plain"]) / split["same_calls_plain"]
    notes = [
        f"{timesteps:,} timesteps each, profiled (cProfile's own cost inflates Python-heavy "
        f"code, pat's included): {total['plain']:.2f} s not instrumented, "
        f"{total['pat']:.2f} s instrumented ({total['pat'] - total['plain']:+.2f} s).",
        f"Of the difference: pat's own functions {split['pat']:.2f} s; extra or new calls "
        f"outside pat (the standard library pat calls, MLflow's client) "
        f"{split['more_calls']:+.2f} s; functions called equally often in both runs "
        f"(skrl, torch, gymnasium: the same work) {split['same_calls']:+.2f} s, i.e. the "
        f"same code ran {speed:.3f}x as long in the instrumented run.",
        "The instrumented run includes `instrument()` and `close()` (run creation, config, "
        "the last flush). A large same-calls share means the machine's speed moved between "
        "the two runs (or pat's threads slowed the training thread: with "
        "`PAT_STORE_PROCESS=0` the sender thread runs MLflow's sqlite writes, holding the "
        "GIL); benchmark 1's A/A row shows how much "
        "speed moves with nothing changed.",
        "The functions whose own time differs most:",
    ]
    return result(
        NAME,
        TITLE,
        [],
        quick=quick,
        sizes={"num_envs": 64, "timesteps": timesteps},
        notes=notes,
        extra={"top": _top(plain, pat), "totals_s": total, "split_s": split, "speed": speed},
    )
