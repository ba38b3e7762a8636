"""Runs that survive preemption at any step: a SIGTERM saves the state at
the step it arrives and exits 143 (a second one during the save changes
nothing), a SIGKILL loses only the steps since
the last step checkpoint, and a resumed run trains exactly the steps an
uninterrupted one would have, with the same losses (each in a subprocess,
stopped by a real signal), here with two block-masked copies of each image
(`masks_per_image=2`, `masking="block"`)."""

import json
import os
import random
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_dsmae.callbacks import RunCheckpoint
from tests.helpers.builders import structured_images, tiny_model
from tests.helpers.jobs import PREEMPTION_JOB, StepLog, history_rows, pretrain_steps, step_log
from tests.helpers.paths import HELPERS

RUN = os.path.join(HELPERS, "preempted_run.py")
TOTAL = PREEMPTION_JOB["epochs"] * PREEMPTION_JOB["steps_per_epoch"]


def _run(folder, signal_name, step):
    return subprocess.run([sys.executable, RUN, str(folder), signal_name, str(step)],
                          capture_output=True, text=True, timeout=600)


def _last_checkpoint_before(step):
    """The global step of the newest checkpoint a run has written after
    `step` steps: every `checkpoint_every_steps` steps into an epoch, and
    at each epoch's end. (`StepLog` runs before `RunCheckpoint`, so a kill
    it sends at a step comes before that step's checkpoint.)"""
    per_epoch, every = PREEMPTION_JOB["steps_per_epoch"], PREEMPTION_JOB["checkpoint_every_steps"]
    return max(s for s in range(step + 1) if s % per_epoch == 0 or (s % per_epoch) % every == 0)


def test_a_run_stopped_by_sigterm_then_killed_resumes_at_the_exact_step_with_the_same_losses(tmp_path):
    rng = random.Random(keras.backend.backend())  # a random step, the same for every run of the test
    term_at = rng.randint(1, PREEMPTION_JOB["steps_per_epoch"] - 1)  # within the first epoch
    kill_at = rng.randint(term_at + 2, TOTAL - 1)
    reference_log = tmp_path / "reference.steps"
    pretrain_steps(tmp_path / "reference", extra_callbacks=[StepLog(str(reference_log))])
    reference = step_log(reference_log)
    assert [step for step, _ in reference] == list(range(1, TOTAL + 1))

    run = tmp_path / "run"
    stopped = _run(run, "TERM", term_at)
    assert stopped.returncode == 143, stopped.stderr[-3000:]
    assert "rerun the same command to resume" in stopped.stderr and "Traceback" not in stopped.stderr
    assert "got SIGTERM again: already stopping" in stopped.stderr  # the second one, during the save
    saved = run / "checkpoints" / f"epoch_0000_step_{term_at:06d}"
    assert json.loads((saved / "state.json").read_text())["step"] == term_at
    first = step_log(f"{run}.steps")
    assert [step for step, _ in first] == list(range(1, term_at + 1))

    killed = _run(run, "KILL", kill_at)
    assert killed.returncode == -9, killed.stderr[-3000:]
    assert f"resuming after step {term_at} of epoch 1" in killed.stdout
    second = step_log(f"{run}.steps")[len(first):]
    assert [step for step, _ in second] == list(range(term_at + 1, kill_at + 1))

    finished = _run(run, "none", 0)
    assert finished.returncode == 0, finished.stderr[-3000:]
    third = step_log(f"{run}.steps")[len(first) + len(second):]
    kept = _last_checkpoint_before(kill_at - 1)  # the kill comes before the job's own step-end work
    assert [step for step, _ in third] == list(range(kept + 1, TOTAL + 1))  # from the step after the checkpoint

    # The steps the saved state went through: each once, with the uninterrupted run's losses.
    trained = first + [entry for entry in second if entry[0] <= kept] + third
    assert [step for step, _ in trained] == list(range(1, TOTAL + 1))
    np.testing.assert_allclose([loss for _, loss in trained], [loss for _, loss in reference], rtol=1e-5)
    rows, reference_rows = history_rows(run), history_rows(tmp_path / "reference")
    assert [row["epoch"] for row in rows] == ["0", "1"]
    np.testing.assert_allclose([float(row["loss"]) for row in rows],
                               [float(row["loss"]) for row in reference_rows], rtol=1e-5)
    assert (run / "encoder.keras").exists()


def test_step_and_timed_checkpoints_record_their_position_and_a_plain_fit_warns_that_it_repeats(tmp_path):
    images = structured_images(16)
    model = tiny_model(loss_weight=0.0)  # plain MAE: no teacher to schedule
    model.compile(optimizer="adam")
    by_steps = RunCheckpoint(tmp_path / "steps", keep=3, every_steps=2)
    model.fit(images, batch_size=2, epochs=1, callbacks=[by_steps], verbose=0)  # 8 steps
    assert sorted(os.listdir(tmp_path / "steps")) == [
        "epoch_0000_step_000004", "epoch_0000_step_000006", "epoch_0001"]  # the newest 3 of 2, 4, 6, end
    state = json.loads((tmp_path / "steps" / "epoch_0000_step_000006" / "state.json").read_text())
    assert (state["epoch"], state["step"], state["steps_per_epoch"]) == (0, 6, 8)
    assert state["seed_states"] and state["metrics"]  # the random streams and the epoch's means so far

    timed = RunCheckpoint(tmp_path / "timed", keep=10, every_minutes=1e-9)  # due after every step
    model.fit(images, batch_size=4, epochs=1, callbacks=[timed], verbose=0)
    assert sorted(os.listdir(tmp_path / "timed")) == ["epoch_0000_step_00000" + str(s) for s in (1, 2, 3)] + [
        "epoch_0001"]

    shutil.rmtree(tmp_path / "steps" / "epoch_0001")
    again = RunCheckpoint(tmp_path / "steps", verbose=False)
    with pytest.warns(UserWarning, match="6 steps into epoch 1, but this fit runs that epoch from its start"):
        model.fit(images, batch_size=2, epochs=1, callbacks=[again], verbose=0)
    assert (again.restored_epoch, again.restored_step) == (0, 6)
    with pytest.raises(ValueError, match="every_steps"):
        RunCheckpoint(tmp_path, every_steps=0)

