"""Whether the process that trains a run is still alive: runs left RUNNING by ``kill -9``.

A process killed with SIGKILL (or by the out-of-memory killer, or a node that lost power)
never ends its run: MLflow shows it RUNNING forever. pat tags every run it writes with the
training process's host, process id and boot id, so ``pat sync`` and ``pat inspect`` can
tell such a run from one that is still training (on the same host: a process on another
host cannot be checked from here).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["HOST_TAG", "PID_TAG", "left_running", "process_tags"]

HOST_TAG = "pat.host"
PID_TAG = "pat.pid"
BOOT_TAG = "pat.boot_id"
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def _boot_id() -> str:
    try:
        return _BOOT_ID.read_text().strip()
    except OSError:
        return ""


def process_tags() -> dict[str, str]:
    """The tags that name the calling process (set on every run pat writes)."""
    tags = {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}
    boot = _boot_id()
    if boot:
        tags[BOOT_TAG] = boot
    return tags


def left_running(status: str, tags: Mapping[str, str]) -> str | None:
    """Why a RUNNING run has nobody training it any more, else None.

    Returns:
        E.g. ``"process 4242 on node-7 is gone"`` when the run is RUNNING, was written
        from this host and that process no longer exists (or the host rebooted since);
        None for any other run, including runs of other hosts.
    """
    host, pid = tags.get(HOST_TAG), tags.get(PID_TAG)
    if status != "RUNNING" or host != socket.gethostname() or not pid or not pid.isdigit():
        return None
    boot = tags.get(BOOT_TAG)
    if boot and boot != _boot_id():
        return f"process {pid} on {host} is gone (the host rebooted since)"
    if int(pid) == os.getpid():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return f"process {pid} on {host} is gone"
    except PermissionError:  # alive, another user's
        return None
    return None
