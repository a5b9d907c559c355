"""Keep what simulators and libraries print while they set up off the screen."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator


@contextlib.contextmanager
def quiet_setup() -> Iterator[None]:
    """Hold back what the block prints (Python and C level), its warnings and skrl's log.

    The output is replayed on stderr when the block fails, so nothing needed to diagnose a
    failure is lost.
    """
    skrl_log = logging.getLogger("skrl")
    level = skrl_log.level
    skrl_log.setLevel(logging.ERROR)
    text = io.StringIO()
    with tempfile.TemporaryFile() as held:
        try:
            with (
                _redirect_fds(held.fileno()),
                contextlib.redirect_stdout(text),
                warnings.catch_warnings(),
            ):
                warnings.simplefilter("ignore")
                yield
        except BaseException:
            held.seek(0)
            sys.stderr.write(held.read().decode(errors="replace") + text.getvalue())
            raise
        finally:
            skrl_log.setLevel(level)


@contextlib.contextmanager
def _redirect_fds(target: int) -> Iterator[None]:
    """Point file descriptors 1 and 2 at ``target`` (C libraries such as Warp print there)."""
    _flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        os.dup2(target, 1)
        os.dup2(target, 2)
        yield
    finally:
        _flush()
        for fd, old in zip((1, 2), saved, strict=True):
            os.dup2(old, fd)
            os.close(old)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
