"""Data-parallel training on two devices: TensorFlow with two logical CPUs
(`tf.distribute.MirroredStrategy`), JAX with two host devices
(`keras.distribution.DataParallel`). Each case runs in a subprocess
(`tests/helpers/two_device_probe.py`) so that the suite keeps one device.
PyTorch has no path (Keras' fit has no DDP) and must say so."""

import json
import os
import socket
import subprocess
import sys

import keras
import pytest

from keras_dsmae.training.distribution import AVAILABLE, resolve_distribution
from tests.helpers.paths import HELPERS, REPO

PROBE = os.path.join(HELPERS, "two_device_probe.py")
BACKEND = keras.backend.backend()
only_tensorflow = pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.distribute is TensorFlow's")
only_jax = pytest.mark.skipif(BACKEND != "jax", reason="keras.distribution data parallelism runs on JAX")
WITH_A_PATH = pytest.mark.skipif(BACKEND == "torch", reason="no multi-device path on PyTorch")


def _probe(*args):
    result = subprocess.run([sys.executable, PROBE, BACKEND, *map(str, args)], cwd=REPO,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@only_tensorflow
def test_tf_replicas_draw_their_own_masks_noise_and_crops_and_replica_0_reproduces_one_device():
    facts = _probe("draws")
    assert facts["replicas"] == 2
    assert facts["masks_differ"] and facts["noise_differs"] and facts["crops_differ"]
    assert facts["replica_0_mask_is_one_device_mask"]
    assert facts["replica_0_crops_are_one_device_crops"]


@only_tensorflow
def test_tf_two_replicas_log_the_global_batch_losses_and_keep_one_teacher():
    """Same masks (content-based) and no noise, two masked copies of each
    image: two replicas must give the one-device run's losses, and a teacher equal on both replicas and to
    the one-device teacher, moved once per global step. Built, compiled and
    fitted inside `strategy.scope()`, with every callback of the package
    (it crashed in TeacherEMA, reading a variable's value on the host)."""
    facts = _probe("losses")
    for name, values in facts["one_device"].items():
        # The spreads across tokens are taken on each replica's half of the
        # batch and averaged (documented): close to one device's, not equal.
        tolerance = 0.05 if name.endswith("_std") else 1e-5
        assert facts["two_replicas"][name] == pytest.approx(values, rel=tolerance), name
    assert {"target_std", "prediction_std"} <= set(facts["one_device"])
    assert facts["teacher_gap_between_replicas"] == 0.0
    assert facts["teacher_gap_to_one_device"] < 1e-5
    assert facts["ema_step"] == 4  # 2 epochs × 2 global steps
    files = facts["files_in_scope"]
    assert "history.csv" in files and any(f.startswith("grids/") for f in files), files
    assert any(f.startswith("checkpoints/epoch_0002/") for f in files), files


@only_jax
def test_jax_data_parallel_losses_equal_one_device_losses():
    """With two masked copies of each image."""
    two, one = _probe("losses", 2), _probe("losses", 1)
    assert (two["devices"], one["devices"]) == (2, 1)
    assert two["ema_step"] == one["ema_step"] == 2  # the teacher moves once per global step
    for name, value in one["losses"].items():
        assert two["losses"][name] == pytest.approx(value, rel=1e-5), name


@WITH_A_PATH
def test_the_pretraining_job_on_two_devices_refuses_an_odd_batch_resumes_and_records_it(tmp_path):
    """Also: a one-device run resumes on two devices (the global batch is the
    same), and a SIGTERM on two devices (MirroredStrategy, DataParallel) saves
    at its step; the rerun trains the rest of the epoch."""
    facts = _probe("job", tmp_path / "run")
    assert facts["preempted"] == [143, 1, 1, "epoch_0001_step_000001"]
    assert "batch_size" in facts["odd_batch_error"] and "multiple of 2" in facts["odd_batch_error"]
    assert facts["num_devices"] == 2
    assert facts["distribution"] == ("mirrored" if BACKEND == "tensorflow" else "data_parallel")
    assert facts["epochs_run_on_resume"] == 1 and facts["ema_step"] == 4  # 2 epochs × 2 global steps, each once
    for name in ("encoder.keras", "history.csv", "curves.png"):
        assert (tmp_path / "run" / name).exists(), name
    assert len(list((tmp_path / "run" / "reconstructions").iterdir())) == 2  # once per epoch, not per replica


@only_jax
def test_two_jax_processes_stop_at_one_step_on_a_signal_to_one_and_resume_one_run(tmp_path):
    """Two processes of one device each, joined by keras.distribution.initialize
    (KERAS_DISTRIBUTION_* variables, distribution="auto") on 127.0.0.1, as two
    hosts would be. A SIGTERM to the second process alone after its first step
    stops both at the step they agree on (the epoch's end, step 2), with one
    checkpoint and exit status 143; a rerun of both finishes the run, whose
    files only the first process writes."""
    run = tmp_path / "run"

    def both(*extra):
        with socket.socket() as probe_socket:
            probe_socket.bind(("127.0.0.1", 0))
            port = probe_socket.getsockname()[1]
        processes = [
            subprocess.Popen([sys.executable, PROBE, "jax", "process", str(run), str(index), str(port), *extra],
                             cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for index in (0, 1)
        ]
        return processes, [process.communicate(timeout=600) for process in processes]

    processes, outputs = both("stop")
    for process, (_, error) in zip(processes, outputs):
        assert process.returncode == 143, error[-3000:]
        assert "stopped by SIGTERM after step 2 of epoch 1" in error
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["epoch_0001"]
    processes, outputs = both()
    for process, (_, error) in zip(processes, outputs):
        assert process.returncode == 0, error[-3000:]
    losses = [json.loads(out.strip().splitlines()[-1])["losses"] for out, _ in outputs]
    assert losses[0] == losses[1] and len(losses[0]) == 1  # one global run, seen by both; epoch 2 left
    config = json.loads((run / "run_config.json").read_text())
    assert (config["distribution"], config["num_devices"]) == ("data_parallel", 2)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["epoch_0001", "epoch_0002"]
    assert (run / "encoder.keras").exists()


@WITH_A_PATH
def test_a_tuning_trial_trains_on_two_devices(tmp_path):
    facts = _probe("tuning", tmp_path / "tuning")
    assert facts["statuses"] == ["COMPLETED"] and 0.0 <= facts["score"] <= 1.0


@only_tensorflow
def test_several_tensorflow_hosts_are_refused_with_the_reason(monkeypatch):
    with pytest.raises(ValueError, match=r"multi_worker.*not supported.*72388.*data_parallel"):
        resolve_distribution("multi_worker")
    cluster = {"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "task": {"type": "worker", "index": 0}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(cluster))
    with pytest.raises(ValueError, match=r"chosen by auto from TF_CONFIG"):
        resolve_distribution("auto")


def test_distribution_names_are_checked_per_backend():
    with pytest.raises(ValueError, match=r"distribution.*'ddp'"):
        resolve_distribution("ddp")
    unavailable = next(n for n in ("mirrored", "data_parallel") if n not in AVAILABLE[BACKEND])
    message = rf"`distribution`='{unavailable}' is not available on the {BACKEND} backend"
    with pytest.raises(ValueError, match=message + (r".*DDP" if BACKEND == "torch" else "")):
        resolve_distribution(unavailable)
    single = resolve_distribution("auto", batch_size=7)  # the suite's process has one device
    assert (single.name, single.num_devices, single.is_chief) == ("none", 1, True)
