"""Runs that survive kills, divergence and a changed configuration: nothing
lost, nothing silently wrong (the pretraining job end to end)."""

import errno
import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_dsmae.callbacks.run_checkpoint import TrainingDiverged
from keras_dsmae.training.run_config import ConfigMismatch, RunRecordUnreadable
from keras_dsmae.training.run_lock import LOCK_FILE, RunLocked
from keras_dsmae.utils.atomic_write import WriteFailed
from tests.helpers.builders import TINY_JOB_AT_32, to_numpy
from tests.helpers.jobs import STEPS, finished_run, history_rows, pretrain
from tests.helpers.paths import HELPERS, REPO

KILLER = os.path.join(HELPERS, "kill_during_checkpoint.py")


def test_a_kill_while_a_checkpoint_is_written_resumes_from_the_previous_one(tmp_path):
    # SIGKILL half-way through writing the second epoch's checkpoint.
    killed = subprocess.run([sys.executable, KILLER, str(tmp_path), "2"],
                            capture_output=True, text=True, timeout=600)
    assert killed.returncode == -9, killed.stderr[-3000:]
    assert (tmp_path / LOCK_FILE).exists()  # the killed job could not release it
    with pytest.warns(UserWarning, match=r"taking over the lock of process \d+ .*which is gone"):
        model, history = pretrain(tmp_path, epochs=3)
    assert not (tmp_path / LOCK_FILE).exists()  # released when the job ended
    assert history.epoch == [1, 2]  # epoch 0's checkpoint was whole; 1 and 2 ran again
    assert [int(r["epoch"]) for r in history_rows(tmp_path)] == [0, 1, 2]
    assert int(to_numpy(model.optimizer.iterations)) == 3 * STEPS
    assert (tmp_path / "encoder.keras").exists()
    assert not [n for n in os.listdir(tmp_path / "checkpoints") if n.startswith(".partial")]


def test_a_second_job_into_a_folder_that_a_live_job_writes_is_refused_naming_it(tmp_path):
    finished_run(tmp_path, epochs=1)
    before = sorted(os.listdir(tmp_path))
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        (tmp_path / LOCK_FILE).write_text(json.dumps(
            {"host": socket.gethostname(), "pid": live.pid, "started": "2026-12-02T06:00:00"}))
        with pytest.raises(RunLocked, match=rf"(?s)written by process {live.pid} on this host.*--output_dir"):
            pretrain(tmp_path, epochs=2)
        elsewhere = {"host": "another-host", "pid": os.getpid(), "started": "2026-12-02T06:00:00"}
        (tmp_path / LOCK_FILE).write_text(json.dumps(elsewhere))  # no way to tell whether it lives
        with pytest.raises(RunLocked, match=r"on host 'another-host'"):
            pretrain(tmp_path, epochs=2)
    finally:
        live.kill()
    assert sorted(n for n in os.listdir(tmp_path) if n != LOCK_FILE) == before  # nothing written
    assert json.loads((tmp_path / LOCK_FILE).read_text()) == elsewhere  # left to its holder
    assert history_rows(tmp_path)[-1]["epoch"] == "0"


def test_a_damaged_run_record_or_an_unwritable_folder_is_refused_before_any_work(tmp_path):
    finished_run(tmp_path, epochs=1)
    record = tmp_path / "run_config.json"
    record.write_text(record.read_text()[:40])  # truncated, as by a full disk
    with pytest.raises(RunRecordUnreadable, match=rf"(?s){record}.*another --output_dir"):
        pretrain(tmp_path, epochs=2)
    record.write_text("[1, 2]")
    with pytest.raises(RunRecordUnreadable, match=r"must hold a JSON object.*list"):
        pretrain(tmp_path, epochs=2)
    assert not (tmp_path / LOCK_FILE).exists()
    with pytest.raises(ValueError, match=r"output_dir.*/proc/no_such_run.*cannot be created"):
        pretrain("/proc/no_such_run", epochs=1)


def test_a_damaged_newest_checkpoint_is_skipped_with_a_warning(tmp_path):
    finished_run(tmp_path, epochs=2)
    newest = sorted(os.listdir(tmp_path / "checkpoints"))[-1]
    with open(tmp_path / "checkpoints" / newest / "model.weights.h5", "wb") as file:
        file.write(b"not a weights file")
    with pytest.warns(UserWarning, match=newest):
        _, history = pretrain(tmp_path, epochs=3)
    assert history.epoch == [1, 2]


def test_a_full_disk_stops_the_job_with_one_error_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    # ENOSPC injected into the second checkpoint's weights file (as h5py raises it) ...
    finished_run(tmp_path, epochs=1)
    original = keras.Model.save_weights

    def disk_full(self, filepath, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(keras.Model, "save_weights", disk_full)
    with pytest.raises(WriteFailed, match=r"(?s)Could not write .*epoch_0002: No space left on device "
                                          r"\(ENOSPC\): the disk is full.*epoch_0001, is intact.*rerun"):
        pretrain(tmp_path, epochs=2)
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["epoch_0001"]  # no partial left
    monkeypatch.setattr(keras.Model, "save_weights", original)
    _, history = pretrain(tmp_path, epochs=2)
    assert history.epoch == [1]

    # ... and for real, on a file system with almost no room (where this process may mount one).
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root); the injected ENOSPC above was checked")
    try:
        with open(disk / "filler", "wb") as filler:
            filler.write(b"\0" * (1024**2 - 48 * 1024))  # a few pages left: the run record, not much more
        with pytest.raises(WriteFailed, match=r"Could not write .*: No space left on device \(ENOSPC\): the disk is full"):
            pretrain(disk / "run", epochs=1)
        left = [name for _, folders, files in os.walk(disk / "run") for name in folders + files]
        assert not [name for name in left if name.startswith(".partial")]
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)  # lazily: the stopped run may hold files there


def diverge(output_dir, **kwargs):
    return pretrain(output_dir, learning_rate=1e12, warmup_epochs=0, **kwargs)


def test_a_diverged_run_keeps_its_last_good_checkpoint_and_encoder(tmp_path):
    finished_run(tmp_path, epochs=1)
    good_encoder = (tmp_path / "encoder.keras").read_bytes()
    with pytest.raises(TrainingDiverged, match=r"(?s)diverged.*after epoch 1.*checkpoints"):
        diverge(tmp_path, epochs=3, allow_config_change=True)
    assert (tmp_path / "encoder.keras").read_bytes() == good_encoder
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["epoch_0001"]
    # A rerun with the sane rate resumes from the good state, not from NaNs.
    model, history = pretrain(tmp_path, epochs=3, allow_config_change=True)
    assert history.epoch == [1, 2] and np.isfinite(history.history["loss"]).all()
    assert all(np.isfinite(to_numpy(w)).all() for w in model.weights)


def test_the_job_exits_non_zero_and_names_the_last_good_state_when_it_diverges(tmp_path):
    command = [
        sys.executable, os.path.join(REPO, "examples", "pretrain_cifar10.py"), "--use_synthetic_data",
        "--epochs=2", "--steps_per_epoch=2", "--batch_size=8", "--learning_rate=1e12",
        "--warmup_epochs=0", f"--output_dir={tmp_path}", "--mixed_precision=float32",
        "--model_overrides=" + json.dumps(TINY_JOB_AT_32),
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=600)
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert "error: Training diverged" in result.stderr and "done" not in result.stdout
    assert not (tmp_path / "encoder.keras").exists()
    assert not os.listdir(tmp_path / "checkpoints") if (tmp_path / "checkpoints").exists() else True


REFUSED_CHANGES = [
    ({"mask_ratio": 0.5}, "overrides"),
    ({"noise_std": 0.1}, "overrides"),
    ({"seed": 7}, "seed"),
    ({"learning_rate": 1e-3}, "learning_rate"),
    ({"epochs": 1}, "epochs"),
]


def test_a_rerun_is_refused_on_changed_settings_and_records_an_allowed_change(tmp_path):
    # One finished run, then each rerun a user may try on it; every refusal
    # comes before any training and leaves the run's files as they were.
    finished_run(tmp_path, epochs=2)
    saved = (tmp_path / "run_config.json").read_text()
    rows = history_rows(tmp_path)
    for change, named in REFUSED_CHANGES:
        with pytest.raises(ConfigMismatch, match=rf"(?s){named}.*saved.*now.*--output_dir.*--allow_config_change"):
            pretrain(tmp_path, **{"epochs": 2, **change})
        assert (tmp_path / "run_config.json").read_text() == saved, change
        assert history_rows(tmp_path) == rows, change
    deeper = {**json.loads(saved)["overrides"], "encoder_depth": 3}
    with pytest.raises(ConfigMismatch, match=r"(?s)encoder_depth.*weights do not fit.*--output_dir"):
        pretrain(tmp_path, epochs=3, model_overrides=deeper, allow_config_change=True)
    # An allowed change and more epochs: only the new epochs run, the change
    # is recorded, and the teacher's momentum keeps rising to 1 over the
    # longer schedule.
    model, history = pretrain(tmp_path, epochs=4, learning_rate=3e-4, allow_config_change=True)
    assert history.epoch == [2, 3]
    assert [int(r["epoch"]) for r in history_rows(tmp_path)] == [0, 1, 2, 3]
    assert int(to_numpy(model.optimizer.iterations)) == 4 * STEPS
    config = json.loads((tmp_path / "run_config.json").read_text())
    assert config["learning_rate"] == 3e-4
    assert config["changes"] == [{"learning_rate": {"saved": 1.5e-4, "now": 3e-4}}]
    momentum = [float(r["teacher_momentum"]) for r in history_rows(tmp_path)]
    assert momentum == sorted(momentum), momentum
    assert momentum[-1] == pytest.approx(1.0)
    assert int(to_numpy(model.ema_teacher.total_steps)) == 4 * STEPS
