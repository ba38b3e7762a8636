"""The pretraining job: files a run writes, resume, flags, precision, schedule."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_dsmae.optimizers import warmup_cosine_schedule
from keras_dsmae.training import resolve_precision, run_pretraining
from tests.helpers.builders import TINY_JOB_AT_32, to_numpy
from tests.helpers.jobs import STEPS, StopAtEpoch, finished_run, history_rows, pretrain
from tests.helpers.paths import REPO


def test_run_writes_history_pictures_checkpoint_and_a_loadable_encoder(tmp_path):
    model, history = pretrain(tmp_path, epochs=3, knn_every=3)
    rows = history_rows(tmp_path)
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert {"loss", "pixel_loss", "feature_loss", "teacher_momentum"} <= set(rows[0])
    assert rows[0]["val_knn_accuracy"] == "" and 0 <= float(rows[2]["val_knn_accuracy"]) <= 1  # --knn_every
    assert sorted(os.listdir(tmp_path / "reconstructions")) == ["epoch_002.png", "epoch_003.png"]
    assert (tmp_path / "curves.png").stat().st_size > 1000
    assert os.listdir(tmp_path / "tensorboard")
    assert os.listdir(tmp_path / "checkpoints")
    encoder = keras.models.load_model(tmp_path / "encoder.keras")
    images = np.random.default_rng(0).standard_normal((2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(to_numpy(encoder(images)), to_numpy(model.encoder(images)), atol=1e-5)
    assert np.isfinite(history.history["loss"]).all()


def test_resume_after_a_kill_continues_optimizer_teacher_and_schedule(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        pretrain(tmp_path, epochs=3, extra_callbacks=[StopAtEpoch(2)])
    assert [int(r["epoch"]) for r in history_rows(tmp_path)] == [0, 1]
    # As if the kill came after epoch 2 was logged but before its checkpoint.
    with open(tmp_path / "history.csv", "a") as file:
        file.write("2,99,99,99,0.5\n")
    model, history = pretrain(tmp_path, epochs=3)
    assert history.epoch == [2]  # only the missing epoch ran
    rows = history_rows(tmp_path)
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert float(rows[2]["loss"]) != 99  # the stale row was replaced
    assert int(to_numpy(model.optimizer.iterations)) == 3 * STEPS
    assert int(to_numpy(model.ema_teacher.step)) == 3 * STEPS
    assert int(to_numpy(model.ema_teacher.total_steps)) == 3 * STEPS


def test_plain_mae_configuration_runs_without_teacher(tmp_path):
    model, _ = pretrain(tmp_path, epochs=1, noise_std=0.0, loss_weight=0.0, jit_compile="false")
    assert model.teacher is None
    assert model.jit_compile is False  # JAX's own default would compile
    assert "feature_loss" not in history_rows(tmp_path)[0]


def test_bad_job_arguments_raise_clear_errors(tmp_path):
    with pytest.raises(ValueError, match=r"epochs.*0"):
        pretrain(tmp_path, epochs=0)
    with pytest.raises(ValueError, match=r"mixed_precision.*'float8'"):
        pretrain(tmp_path, epochs=1, mixed_precision="float8")
    with pytest.raises(ValueError, match=r"preset.*dsmae_vit_tiny_stl10.*96×96.*32×32.*image_size=96x96"):
        run_pretraining("cifar10", output_dir=str(tmp_path), preset="dsmae_vit_tiny_stl10")


@pytest.mark.parametrize("cpu_flags, expected", [
    ("fpu sse2 avx2 avx512f", "float32"),
    ("fpu sse2 avx512f avx512_bf16", "mixed_bfloat16"),
    ("fpu amx_tile amx_bf16", "mixed_bfloat16"),
])
def test_auto_precision_on_cpu_follows_native_bfloat16(tmp_path, monkeypatch, cpu_flags, expected):
    from keras_dsmae.training import precision

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {cpu_flags}\n")
    monkeypatch.setattr(precision, "CPUINFO_PATH", str(cpuinfo))
    monkeypatch.setattr(precision, "gpu_supports_bfloat16", lambda: None)  # as on a CPU-only machine
    assert resolve_precision("auto") == expected
    assert resolve_precision("auto", resumed_policy="float32") == "float32"  # a run keeps its precision
    assert resolve_precision("bfloat16") == "mixed_bfloat16"
    assert resolve_precision("float16") == "mixed_float16"
    assert resolve_precision("float32") == "float32"


def test_cpu_bfloat16_check_reads_cpuinfo_flags(tmp_path):
    from keras_dsmae.training.precision import cpu_supports_bfloat16

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("flags\t\t: fpu avx512f avx512_bf16\n")
    assert cpu_supports_bfloat16(str(cpuinfo))
    cpuinfo.write_text("flags\t\t: fpu avx512f avx512bw\n")
    assert not cpu_supports_bfloat16(str(cpuinfo))
    assert not cpu_supports_bfloat16(str(tmp_path / "missing"))


def test_auto_precision_resumes_in_the_runs_own_precision(tmp_path, monkeypatch):
    from keras_dsmae.training import precision

    monkeypatch.setattr(precision, "cpu_supports_bfloat16", lambda: False)
    monkeypatch.setattr(precision, "gpu_supports_bfloat16", lambda: None)
    model, _ = pretrain(tmp_path, epochs=1, mixed_precision="bfloat16")
    model, _ = pretrain(tmp_path, epochs=2, mixed_precision="auto")  # would be float32 for a new run
    assert model.dtype_policy.name == "mixed_bfloat16"


def test_a_run_written_before_image_size_and_normalization_were_recorded_resumes(tmp_path):
    finished_run(tmp_path, epochs=1)
    path = tmp_path / "run_config.json"
    old = json.loads(path.read_text())
    for key in ("image_size", "normalization"):  # what version 0.2.0 did not record
        del old[key]
    path.write_text(json.dumps(old))
    _, history = pretrain(tmp_path, epochs=2)
    assert len(history.history["loss"]) == 1  # continued with epoch 2
    assert json.loads(path.read_text())["image_size"] == [32, 32]


def test_warmup_then_cosine_learning_rate():
    schedule = warmup_cosine_schedule(1e-3, total_steps=100, warmup_steps=10)
    rates = [float(to_numpy(schedule(step))) for step in (0, 5, 10, 55, 100)]
    assert rates[0] == pytest.approx(0.0, abs=1e-9)
    assert rates[1] == pytest.approx(5e-4, rel=1e-3)
    assert rates[2] == pytest.approx(1e-3, rel=1e-3)
    assert rates[3] == pytest.approx(5e-4, rel=1e-2)  # half-way down the cosine
    assert rates[4] == pytest.approx(0.0, abs=1e-7)


@pytest.mark.slow
def test_example_script_runs_offline_with_flags(tmp_path):
    command = [
        sys.executable, os.path.join(REPO, "examples", "pretrain_cifar100.py"),
        "--use_synthetic_data", "--epochs=1", "--steps_per_epoch=1", "--batch_size=8",
        f"--output_dir={tmp_path}", "--mask_ratio=0.5", "--noise_std=0.1", "--mixed_precision=float32",
        "--model_overrides=" + json.dumps(TINY_JOB_AT_32),
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "cifar100 with dsmae_vit_tiny_cifar" in result.stdout
    assert (tmp_path / "encoder.keras").exists() and (tmp_path / "history.csv").exists()
    run_config = json.loads((tmp_path / "run_config.json").read_text())
    assert run_config["overrides"]["mask_ratio"] == 0.5 and run_config["overrides"]["encoder_depth"] == 1
    bad = subprocess.run(command[:2] + ["--mixed_precision=fp8"], capture_output=True, text=True, cwd=REPO)
    assert bad.returncode != 0 and "mixed_precision" in bad.stderr and "Traceback" not in bad.stderr


def test_every_example_script_imports_its_entry_point():
    # The scripts are thin wrappers; loading one without running it resolves
    # its import. The commands behind them run in tests/data/test_own_data.py.
    import runpy

    for name in sorted(os.listdir(os.path.join(REPO, "examples"))):
        if name.endswith(".py"):
            namespace = runpy.run_path(os.path.join(REPO, "examples", name), run_name="not_main")
            entry_points = [value for key, value in namespace.items() if key.endswith("_main") or key == "main"]
            assert entry_points and all(callable(value) for value in entry_points), name
