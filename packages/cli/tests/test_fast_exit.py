"""A finished `pat train` ends without Python's teardown, and loses nothing doing so."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

EXITING = """
import atexit, sys, threading, time
from pathlib import Path
from pat_cli import _fast_exit

out = Path(sys.argv[1])
atexit.register(lambda: (out / "atexit").write_text("ran"))

def late():
    time.sleep(0.3)
    (out / "thread").write_text("joined")

threading.Thread(target=late).start()
sys.stdout.write("buffered output")  # a pipe: block-buffered, not yet written
if sys.argv[2] == "allow":
    _fast_exit.allow()
if _fast_exit.allowed():
    _fast_exit.exit_now(3)
(out / "after").write_text("reached")
"""


def _run(tmp_path: Path, mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", EXITING, str(tmp_path), mode],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_exit_now_joins_threads_runs_atexit_and_flushes_before_ending(tmp_path):
    done = _run(tmp_path, "allow")
    assert done.returncode == 3, done.stderr
    assert done.stdout == "buffered output"
    assert (tmp_path / "thread").read_text() == "joined"
    assert (tmp_path / "atexit").read_text() == "ran"
    assert not (tmp_path / "after").exists()  # nothing runs after it


def test_without_allow_the_process_exits_the_usual_way(tmp_path):
    done = _run(tmp_path, "keep")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "after").read_text() == "reached"
    assert (tmp_path / "atexit").read_text() == "ran"
