"""Send points to a sqlite store through pat's sink stack until another process locks it.

Usage: python busy_child.py TRACKING_URI RUN_ID SPOOL_DIR WORK_DIR
Sends 500 points (stored), writes WORK_DIR/ready, waits for WORK_DIR/locked, then sends
300 more: their request waits in sqlite's busy timeout (the test holds the write lock)
and the test kills this process with SIGKILL meanwhile (WORK_DIR/sending says when).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from mlflow import MlflowClient

from pat_skrl_mlflow import BackgroundSender, MetricPoint
from pat_skrl_mlflow.run_store._spooling_sink import durable_sink


def points(start: int, count: int) -> list[MetricPoint]:
    return [
        MetricPoint("loss", float(s), s, 1_700_000_000_000 + s) for s in range(start, start + count)
    ]


def main(uri: str, run_id: str, spool: str, work: str) -> None:
    os.environ["PAT_SPOOL_DIR"] = spool
    sink = durable_sink(MlflowClient(uri), run_id, tracking_uri=uri)
    sender = BackgroundSender(sink, linger_seconds=0.0)
    sender.submit(points(0, 500))
    assert sender.flush(120)
    assert sender.stats.delivered == 500
    Path(work, "ready").write_text("")
    while not Path(work, "locked").exists():
        time.sleep(0.01)
    sender.submit(points(500, 300))
    Path(work, "sending").write_text("")
    sender.flush(120)  # blocks in the store's busy wait until the test kills this process


if __name__ == "__main__":
    main(*sys.argv[1:5])
