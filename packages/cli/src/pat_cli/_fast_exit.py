"""End a finished ``pat train`` without Python's interpreter teardown.

After a training, freeing the modules of torch, Warp, Isaac Lab and MLflow one object at a
time takes seconds (3-4 s measured for Isaac-Cartpole on this project's 2-core machines)
and does nothing a user keeps: by then the MLflow run is ended, pat's store writer has
committed every point and skrl's TensorBoard writer is closed. A command that has reached
that point calls :func:`allow`; :func:`exit_now` then does what Python's own exit does first
(waits for non-daemon threads, runs ``atexit`` handlers, flushes stdout and stderr) and ends
the process with ``os._exit``. Anything else exits the usual way.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading

_state = {"allowed": False}


def allow() -> None:
    """Everything the command wrote is closed: the process may skip the teardown."""
    _state["allowed"] = True


def allowed() -> bool:
    """Whether :func:`allow` was called in this process."""
    return _state["allowed"]


def exit_now(code: int) -> None:
    """Exit with ``code`` at once: threads joined, ``atexit`` handlers run, output flushed."""
    main = threading.main_thread()
    for thread in threading.enumerate():
        if thread is not main and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()  # what Py_Finalize runs first; os._exit skips it otherwise
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed or broken: nothing to save
            stream.flush()
    os._exit(code)
