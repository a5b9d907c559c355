"""Resuming a run with ``step_offset``; capture-only instrumentation (``run=None``)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from mlflow import MlflowClient

from pat_core import parse_log_interval
from pat_skrl_mlflow import RUN_FILE, instrument, last_logged_step
from pat_skrl_mlflow.window._pacing import Pacer
from skrl_mlflow_support import (
    TensorBoardRecorder,
    make_runner,
    metric_histories,
    runner_cfg,
    vector_env,
)

pytestmark = pytest.mark.usefixtures("in_process_writes")  # subject: capture, not the writer

SKRL_PREFIXES = ("Reward / ", "Loss / ", "Policy / ", "Stats / ", "Episode / ")


def _runner(tmp_path, timesteps=32, write_interval=16):
    env = vector_env("Pendulum-v1", num_envs=2, max_episode_steps=16)
    cfg = runner_cfg(
        "PPO",
        directory=str(tmp_path / "runs"),
        timesteps=timesteps,
        write_interval=write_interval,
        rollouts=16,
    )
    return make_runner(env, cfg)


def test_step_offset_continues_the_run_after_its_last_step(tmp_path, store):
    first = _runner(tmp_path)
    with instrument(first.agent, run="new", tracking_uri=store, log_config=False) as handle:
        first.run()
    run_id = handle.run_id
    assert run_id is not None
    before = metric_histories(store, run_id)
    last = last_logged_step(run_id, store)
    assert last == max(step for points in before.values() for step, _ in points) == 32

    second = _runner(tmp_path)
    with instrument(second.agent, run=run_id, tracking_uri=store, step_offset=last) as resumed:
        second.run()

    assert resumed.run_id == run_id
    after = metric_histories(store, run_id)
    new_steps = {}
    for key, points in after.items():
        steps = [s for s, _ in points]
        assert len(steps) == len(set(steps)), (key, steps)  # no step logged twice
        old = [s for s, _ in before.get(key, [])]
        added = sorted(set(steps) - set(old))
        assert all(s > last for s in added), (key, added)
        new_steps[key] = added
    assert new_steps["policy_loss"] == [48, 64]  # the grid continues: offset + 16, + 32


def test_resume_from_a_checkpoint_continues_its_run_after_the_checkpoint(tmp_path, store):
    """pat_run.json beside checkpoints/ names the run; steps go on after the checkpoint."""
    env = vector_env("Pendulum-v1", num_envs=2, max_episode_steps=16)
    cfg = runner_cfg(
        "PPO", directory=str(tmp_path / "runs"), timesteps=32, write_interval=16, rollouts=16,
        checkpoint_interval=32,
    )  # fmt: skip
    first = make_runner(env, cfg)
    with instrument(first.agent, run="new", tracking_uri=store, log_config=False) as handle:
        first.run()
    [checkpoint] = sorted(Path(first.agent.experiment_dir).glob("checkpoints/agent_32.pt"))
    record = json.loads((Path(first.agent.experiment_dir) / RUN_FILE).read_text())
    assert record == {"run_id": handle.run_id, "tracking_uri": store}

    second = make_runner(env, cfg)
    second.agent.load(str(checkpoint))
    with instrument(
        second.agent, tracking_uri=store, log_config=False, resume_from=checkpoint
    ) as resumed:
        second.run()

    assert resumed.run_id == handle.run_id
    steps = [step for step, _ in metric_histories(store, handle.run_id)["policy_loss"]]
    assert steps == [16, 32, 48, 64]  # after the checkpoint's timestep 32, not again 16, 32
    assert MlflowClient(store).get_run(handle.run_id).info.status == "FINISHED"
    assert len(MlflowClient(store).search_runs(["0"])) == 1


def test_resume_from_takes_no_other_run(tmp_path):
    runner = _runner(tmp_path)
    with pytest.raises(ValueError, match="resume_from picks the run"):
        instrument(runner.agent, run="new", resume_from=tmp_path / "agent_32.pt")


def test_pacer_shifts_steps_and_the_interval_grid():
    pacer = Pacer(parse_log_interval(32), step_offset=60)
    pacer.start(agent=None, timesteps=64)
    boundaries = [pacer.advance(t, 64).boundary for t in range(1, 65)]
    assert [b for b in boundaries if b is not None] == [92, 124]
    assert pacer.partial_step() == 124
    pacer.last_emitted = 124  # the instrumentation emitted that window
    assert pacer.partial_step() == 125  # values tracked after the last boundary
    fresh = Pacer(parse_log_interval(32), step_offset=60)
    fresh.start(agent=None, timesteps=64)
    assert fresh.partial_step() == 61  # never a step the resumed run already has


@pytest.mark.parametrize("offset", [-1, 1.5, True])
def test_bad_step_offset_is_refused_before_a_run_starts(tmp_path, offset):
    runner = _runner(tmp_path, timesteps=16)
    with pytest.raises(ValueError, match="step_offset"):
        instrument(runner.agent, step_offset=offset)
    assert not (tmp_path / "mlflow.db").exists()


def test_capture_only_counts_every_value_and_sends_nothing(tmp_path):
    runner = _runner(tmp_path)
    recorder = TensorBoardRecorder(runner.agent)  # skrl's own lists, independently of pat
    with instrument(runner.agent, run=None, include=["policy_loss"]) as handle:
        runner.run()
    summary = handle.close()

    assert handle.run_id is None
    assert summary.points_logged == 0
    assert not (tmp_path / "mlflow.db").exists()
    assert not (tmp_path / "mlruns").exists()
    stats = {row.tag: row for row in handle.tag_stats}
    for tag in recorder.tags:
        if not tag.startswith(SKRL_PREFIXES):
            continue
        values = [
            v for step in sorted(recorder.windows) for v in recorder.windows[step].get(tag, [])
        ]
        assert stats[tag].count == len(values), tag
        assert math.isclose(stats[tag].last, values[-1], rel_tol=1e-6), tag
    # tracked once per env step on both skrl lines (1.4 tracks no "Stats / ..." timings)
    assert stats["Reward / Instantaneous reward (mean)"].count == 32
    loss = stats["Loss / Policy loss"]
    assert (loss.key, loss.reducer, loss.count) == ("policy_loss", "mean", 32 // 16)
    low = stats["Reward / Instantaneous reward (min)"]
    assert (low.key, low.reducer) == ("instantaneous_reward_min", "min")
    assert "Loss / Value loss" in summary.filtered_tags  # the filter applies as in a real run
    assert "Loss / Policy loss" not in summary.filtered_tags


def test_instrumented_run_does_not_count_tags(tmp_path, store):
    runner = _runner(tmp_path, timesteps=16)
    with instrument(runner.agent, run="new", tracking_uri=store, log_config=False) as handle:
        runner.run()
    assert handle.tag_stats == []  # counting is capture-only: no cost on real runs
    assert MlflowClient(tracking_uri=store).get_run(handle.run_id).data.metrics


def test_a_window_the_ranks_cannot_combine_is_logged_as_this_rank_s_own(tmp_path, store):
    """A rank died mid-training: the pooling collective fails, this rank's windows still count.

    No process group exists here, so ``aggregate_across_ranks`` fails as it does once a peer
    of a real group is gone (``test_train_ranks.py`` kills one of two real ranks).
    """
    runner = _runner(tmp_path)
    with instrument(runner.agent, run="new", tracking_uri=store, log_config=False) as handle:
        handle.aggregate_ranks = True  # as on rank 0 of a group that broke
        runner.run()
    assert handle.aggregate_ranks is False  # no further collectives on a broken group
    steps = [step for step, _ in metric_histories(store, handle.run_id)["policy_loss"]]
    assert steps == [16, 32]  # every window, not dropped with the failed pooling


def test_a_window_a_signal_interrupts_while_ranks_pool_it_is_logged(tmp_path, store, monkeypatch):
    """SIGTERM's handler finishes the run in the training thread, possibly inside the pooling
    collective of a window already closed: that window was lost (`test_train_ranks.py`, a rank
    killed, lost step 136 of rank 0's). It is now logged as this rank's own."""
    from pat_skrl_mlflow import _instrumentation

    runner = _runner(tmp_path)
    handle = instrument(runner.agent, run="new", tracking_uri=store, log_config=False)
    handle.aggregate_ranks = True  # as on rank 0 of a group

    def interrupted(reducers):  # the signal arrives during the collective
        handle._finish("KILLED", end_foreign_run=True)  # what _on_sigterm's _finish_all does
        raise SystemExit(143)  # then the process ends of SIGTERM

    monkeypatch.setattr(_instrumentation, "aggregate_across_ranks", interrupted)
    with pytest.raises(SystemExit):
        runner.run()
    steps = [step for step, _ in metric_histories(store, handle.run_id)["policy_loss"]]
    assert steps == [16]  # the window being pooled when the signal came
    assert MlflowClient(store).get_run(handle.run_id).info.status == "KILLED"
