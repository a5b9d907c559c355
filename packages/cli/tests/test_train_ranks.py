"""`pat train --nproc-per-node 2`: ranks started by torch.distributed.run, one MLflow run.

Two CPU ranks train here for real. skrl itself would create an NCCL process group when
WORLD_SIZE > 1 (needs GPUs); on the CPU pat creates a gloo group before skrl is imported and
lets skrl's own NCCL call pass (pat_cli._ranks) — the product's path, nothing changed by the
test. What the test adds is a spy: a ``sitecustomize`` module on PYTHONPATH (Python's own
start-up hook, imported by every process torchrun starts) that records each rank's window
(count and value per key) as pat-skrl-mlflow combines it, and the rank's pid. It changes no
value and no call. The NCCL twin at the end runs only where two GPUs are present.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

SPY = """
import json, os
from pathlib import Path

out = os.environ.get("PAT_TEST_SPY")
if out and os.environ.get("RANK"):
    rank = os.environ["RANK"]
    try:  # the rank itself; its store writer child, started later, finds the file there
        with open(Path(out, f"rank{rank}.pid"), "x") as file:
            file.write(str(os.getpid()))
    except FileExistsError:
        pass
    from pat_skrl_mlflow import _instrumentation as _instrument

    combine, emit, step = _instrument.aggregate_across_ranks, _instrument.Instrumentation._emit, [0]

    def spy_emit(self, at, **kwargs):
        step[0] = at
        if len(self.pipeline.window):  # a window with values: its points are due
            with open(Path(out, f"rank{rank}.emitted"), "a") as file:
                file.write(f"{at}\\n")
        return emit(self, at, **kwargs)

    def spy_combine(reducers):
        window = {k: [r.name, r.count, r.compute()] for k, r in reducers.items()}
        with open(Path(out, f"rank{rank}.jsonl"), "a") as file:
            file.write(json.dumps({"step": step[0], "window": window}) + "\\n")
        return combine(reducers)

    _instrument.Instrumentation._emit = spy_emit
    _instrument.aggregate_across_ranks = spy_combine
"""


def _start(work: Path, spy: Path, *args: str) -> subprocess.Popen[str]:
    spy.mkdir()
    (spy / "sitecustomize.py").write_text(SPY)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(
        COLUMNS="120",
        NO_COLOR="1",
        PAT_TEST_SPY=str(spy),
        PYTHONPATH=os.pathsep.join([str(spy), env.get("PYTHONPATH", "")]),
    )
    return subprocess.Popen(
        [sys.executable, "-m", "pat_cli", "train", "--task", "CartPole-v1", "--num-envs", "2",
         "--nproc-per-node", "2", "--seed", "5", *args],
        cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _windows(spy: Path, rank: int) -> dict[int, dict[str, list]]:
    lines = (spy / f"rank{rank}.jsonl").read_text().splitlines()
    return {entry["step"]: entry["window"] for entry in map(json.loads, lines)}


def _runs(database: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(database) as connection:
        return connection.execute("SELECT run_uuid, status FROM runs").fetchall()


def _metric(database: Path, key: str, step: int) -> float:
    with sqlite3.connect(database) as connection:
        query = "SELECT value FROM metrics WHERE key = ? AND step = ?"
        return float(connection.execute(query, (key, step)).fetchone()[0])


def _pooled(name: str, parts: list[list]) -> float:
    """The statistic of both ranks' values together, from each rank's count and value."""
    parts = [(count, value) for _, count, value in parts if not math.isnan(value)]
    if name == "max":
        return max(value for _, value in parts)
    if name == "min":
        return min(value for _, value in parts)
    assert name == "mean", name
    return math.fsum(count * value for count, value in parts) / sum(c for c, _ in parts)


def test_two_cpu_ranks_train_one_run_with_both_ranks_env_metrics_pooled(tmp_path):
    work, spy = tmp_path / "work", tmp_path / "spy"
    work.mkdir()
    process = _start(work, spy, "--timesteps", "64", "--log-interval", "32")
    out, err = process.communicate(timeout=600)

    assert process.returncode == 0, out + err
    assert "Traceback" not in err
    assert "2 envs x 2 ranks x 64 timesteps" in out
    assert out.count("pat train · CartPole-v1 · FINISHED") == 1  # rank 0's summary only
    assert "PPO on cpu, 2 envs x 2 ranks" in out
    database = work / "mlflow.db"
    [(run_id, status)] = _runs(database)  # one run, written by rank 0
    assert status == "FINISHED"
    with sqlite3.connect(database) as connection:
        params = dict(
            connection.execute("SELECT key, value FROM params WHERE run_uuid = ?", (run_id,))
        )
    assert params["world_size"] == "2"

    rank0, rank1 = _windows(spy, 0), _windows(spy, 1)
    assert sorted(rank0) == sorted(rank1) == [32, 64]  # both ranks combine every window
    env_keys = checked = differ = 0
    for step, window in rank0.items():
        for key, (name, *_) in window.items():
            parts = [window[key], *([rank1[step][key]] if key in rank1[step] else [])]
            expected = _pooled(name, parts)
            assert _metric(database, key, step) == pytest.approx(expected, rel=1e-6), (key, step)
            checked += 1
            env_keys += key.startswith("Episode_Metrics/")
            differ += len(parts) == 2 and not math.isclose(expected, parts[0][2], rel_tol=1e-6)
    assert env_keys >= 2, rank0
    assert differ, "every pooled value equals rank 0's own: rank 1's values are missing"
    assert checked > 20


def _wait_for_points(process: subprocess.Popen[str], database: Path, spy: Path) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            with sqlite3.connect(database) as connection:
                points = connection.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
        except sqlite3.OperationalError:  # not created yet, or locked by the writer
            points = 0
        if points > 20 and (spy / "rank1.pid").exists():
            return
        time.sleep(1)
    pytest.fail("the ranks logged nothing in 300 s")


def test_sigterm_stops_every_rank_and_ends_the_run_killed_once(tmp_path):
    work, spy = tmp_path / "work", tmp_path / "spy"
    work.mkdir()
    process = _start(work, spy, "--timesteps", "1000000", "--log-interval", "step")
    try:
        _wait_for_points(process, work / "mlflow.db", spy)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=200)
    finally:
        if process.poll() is None:
            process.kill()

    assert process.returncode == 143, out + err
    assert "Traceback" not in err
    assert err.count("Terminated (SIGTERM): the run ended as KILLED") == 1
    assert out.count("pat train · CartPole-v1 · KILLED") == 1
    [(_, status)] = _runs(work / "mlflow.db")
    assert status == "KILLED"
    for rank in (0, 1):
        assert not _alive(int((spy / f"rank{rank}.pid").read_text())), rank


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")  # a zombie has ended; only its exit status is left


def test_a_rank_that_dies_ends_the_run_failed_naming_it(tmp_path):
    work, spy = tmp_path / "work", tmp_path / "spy"
    work.mkdir()
    process = _start(work, spy, "--timesteps", "1000000", "--log-interval", "step")
    try:
        _wait_for_points(process, work / "mlflow.db", spy)
        os.kill(int((spy / "rank1.pid").read_text()), signal.SIGKILL)
        out, err = process.communicate(timeout=200)
    finally:
        if process.poll() is None:
            process.kill()

    assert process.returncode == 1, out + err
    assert "Traceback" not in err
    [line] = [line for line in err.splitlines() if line.startswith("Error:")]
    assert "rank 1 stopped (killed by SIGKILL)" in line
    assert "torch/distributed" not in err  # torchrun's own log line of it is not shown
    [(run_id, status)] = _runs(work / "mlflow.db")
    assert status == "FAILED"
    assert f"MLflow run {run_id} ended as FAILED" in line
    with sqlite3.connect(work / "mlflow.db") as connection:
        tags = dict(connection.execute("SELECT key, value FROM tags WHERE run_uuid = ?", (run_id,)))
    assert tags["pat.failed_rank"] == "1"
    from pat_skrl_mlflow import Spool

    # Every window rank 0 closed, while rank 1 lived (pooled) or after it died (rank 0's own,
    # once pooling failed), reached the store or waits in the run's spool for `pat sync`.
    closed = {int(line) for line in (spy / "rank0.emitted").read_text().split()}
    with sqlite3.connect(work / "mlflow.db") as connection:
        stored = {step for (step,) in connection.execute("SELECT DISTINCT step FROM metrics")}
    spooled = {p.point.step for d in work.rglob("pat_spool") for p in Spool(d).pending()}
    assert closed <= stored | spooled, sorted(closed - stored - spooled)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--nproc-per-node", "0"], "invalid value for --nproc-per-node: '0'"),
        (["--nproc-per-node", "2", "--nnodes", "two"], "invalid value for --nnodes: 'two'"),
        (["--nnodes", "2", "--rdzv-backend", "zmq"], "invalid value for --rdzv-backend: 'zmq'"),
    ],
)
def test_a_bad_launch_option_is_one_line_before_any_rank_starts(invoke, error_line, args, expected):
    result = invoke("train", "--task", "CartPole-v1", *args)
    assert result.exit_code == 2, result.output
    assert expected in error_line(result)


def test_each_rank_runs_the_command_without_the_launch_options():
    from pat_cli._launch import rank_args

    argv = ["train", "--nproc-per-node", "2", "--nnodes=1", "-t", "CartPole-v1", "--rdzv-id", "j"]
    assert rank_args(argv) == ["train", "-t", "CartPole-v1"]


@pytest.mark.parametrize(
    ("exit_codes", "culprit"),
    [
        ({0: 1, 1: -signal.SIGKILL}, 1),  # rank 0 failed in a collective after rank 1 died
        ({0: -signal.SIGTERM, 1: 1}, 1),  # torchrun stopped rank 0 after rank 1's error
        ({0: 2, 1: 1}, 0),  # two errors in the same second: the lower rank
    ],
)
def test_the_rank_named_is_the_one_that_failed_of_its_own(exit_codes, culprit, tmp_path):
    from torch.distributed.elastic.multiprocessing.errors import ProcessFailure

    from pat_cli._launch import _culprit

    failures = {
        rank: ProcessFailure(rank, 1000 + rank, code, str(tmp_path / "none.json"))
        for rank, code in exit_codes.items()
    }
    for failure in failures.values():
        failure.timestamp = 1_700_000_000  # torchrun's whole seconds: a tie
    assert _culprit(failures)[0] == culprit


def _gpus() -> int:
    if shutil.which("nvidia-smi") is None:  # no driver: no GPU, and no 3 s torch import
        return 0
    import torch

    return torch.cuda.device_count()


def test_two_gpu_ranks_train_one_run_over_nccl(tmp_path):
    """skrl's own NCCL group, each rank on cuda:LOCAL_RANK: the run pat writes is rank 0's."""
    if _gpus() < 2:
        pytest.skip("NCCL ranks need two GPUs (none here)")
    work, spy = tmp_path / "work", tmp_path / "spy"
    work.mkdir()
    process = _start(work, spy, "--timesteps", "64", "--log-interval", "32", "--device", "cuda")
    out, err = process.communicate(timeout=600)

    assert process.returncode == 0, out + err
    assert "on cuda:0: 2 envs x 2 ranks" in out
    [(_, status)] = _runs(work / "mlflow.db")
    assert status == "FINISHED"
    assert sorted(_windows(spy, 0)) == sorted(_windows(spy, 1)) == [32, 64]


def test_more_ranks_than_gpus_is_one_line(invoke, error_line):
    gpus = _gpus()
    if gpus < 1:
        pytest.skip("needs a GPU (none here)")
    too_many = str(gpus + 1)
    result = invoke("train", "--task", "CartPole-v1", "--nproc-per-node", too_many)
    assert result.exit_code == 2, result.output
    assert f"invalid value for --nproc-per-node: {too_many}; expected at most {gpus}" in (
        error_line(result)
    )
