"""Times skrl's ``Runner.run`` in a benchmarked process (benchmark 5, both sides).

Put this directory on ``PYTHONPATH`` and name a file in ``PAT_BENCH_LOOP_FILE``: when
``skrl.utils.runner.torch`` is imported, ``Runner.run`` is wrapped so that its wall seconds
are written to that file. ``pat train`` and ``isaaclab train`` both train with that runner,
so the same span is measured on both sides: the training loop, from the first to the last
timestep, without start-up, environment creation, the agent's construction or teardown.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.util
import os
import sys
import time
from typing import Any

_MODULE = "skrl.utils.runner.torch"
_FILE = os.environ.get("PAT_BENCH_LOOP_FILE")


def _wrap(module: Any) -> None:
    runner = module.Runner
    original = runner.run

    @functools.wraps(original)
    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            with open(_FILE, "a") as out:  # type: ignore[arg-type]
                out.write(f"{time.perf_counter() - start}\n")

    runner.run = timed


class _Loader(importlib.abc.Loader):
    def __init__(self, inner: importlib.abc.Loader) -> None:
        self.inner = inner

    def create_module(self, spec: Any) -> Any:
        return self.inner.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self.inner.exec_module(module)  # type: ignore[attr-defined]
        _wrap(module)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != _MODULE:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)
        return spec


if _FILE:
    sys.meta_path.insert(0, _Finder())
