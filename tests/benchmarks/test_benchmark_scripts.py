"""The prepared GPU command runs end to end (`--smoke`: tiny models on this
CPU), so that it works the day a GPU machine is lent."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from tests.helpers.paths import REPO


@pytest.mark.slow
def test_gpu_check_smoke_runs_every_stage_and_writes_its_tables(tmp_path):
    backend = keras.backend.backend()
    done = subprocess.run(
        [sys.executable, os.path.join(REPO, "benchmarks", "gpu_check.py"), "--smoke",
         f"--backends={backend}", f"--output_dir={tmp_path}"],
        capture_output=True, text=True, timeout=900, cwd=REPO,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    [result_file] = [name for name in os.listdir(tmp_path) if name.endswith("_smoke.json")]
    results = json.loads((tmp_path / result_file).read_text())
    assert results["device"]  # the GPU's name, or the CPU cores
    assert all(stage["ok"] for stage in results["stages"].values()), results["stages"]
    peer_rows = [row for part in results["peer"]["rows"] for row in part]
    assert {row["precision"] for row in peer_rows} == {"float32", "bfloat16"}
    assert all(row["dsmae_images_per_s"] > 0 for row in peer_rows)
    fit = results["feed"]["backends"][backend]["fit"]
    assert {key.split("/")[-1] for key in fit} == {"host", "device", "resident", "arrays"}
    assert results["vit_small_224"]["rows"][0][0]["preset"] == "dsmae_vit_small_224"
    float16 = results["float16"]["backends"][backend]
    assert float16["all_finite"] and float16["optimizer"] == "LossScaleOptimizer"
    assert float16["steps"] >= 12 and float16["loss_scale_max"] > 0
    table = (tmp_path / result_file.replace(".json", ".md")).read_text()
    assert "resident / arrays" in table and "mixed_float16" in table and "All stages passed." in table
    rows = [line for line in table.splitlines() if line.startswith(f"| {backend} | ")]
    assert len(rows) == 2, table  # the feed row and the float16 row


def _fashion_mnist_files(folder, train=192, test=64):
    """Small Fashion-MNIST-shaped idx.gz files: ten classes of blurred stripes."""
    sys.path.insert(0, os.path.join(REPO, "benchmarks"))
    from quality.fashion_mnist_data import FILES, write_idx

    rng = np.random.default_rng(0)
    rows = np.arange(28)[:, None]
    for split, count in (("train", train), ("test", test)):
        labels = rng.integers(0, 10, count).astype(np.uint8)
        waves = np.sin((rows * (1 + labels[:, None, None]) / 6.0) + rng.uniform(0, 6, (count, 1, 1)))
        images = np.clip(127 + 120 * waves + rng.normal(0, 20, (count, 28, 28)), 0, 255).astype(np.uint8)
        write_idx(os.path.join(folder, FILES[f"{split}_images"] + ".gz"), images)
        write_idx(os.path.join(folder, FILES[f"{split}_labels"] + ".gz"), labels)


@pytest.mark.slow
def test_fashion_mnist_benchmark_runs_through_the_job_and_reuses_its_runs(tmp_path):
    _fashion_mnist_files(str(tmp_path))
    command = [sys.executable, os.path.join(REPO, "benchmarks", "fashion_mnist.py"), f"--data_dir={tmp_path}",
               f"--output_dir={tmp_path / 'out'}", "--configs=pixels,mae,dsmae", "--seeds=0", "--epochs=1",
               "--batch_size=64", "--encoder_dim=32", "--encoder_depth=1", "--eval_train_examples=128",
               "--finetune_examples=128", "--linear_epochs=2", "--baseline=mae"]
    env = {**os.environ, "KERAS_BACKEND": keras.backend.backend(), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=REPO, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert list(results["results"]) == ["pixels", "mae", "dsmae", "dsmae:teacher"]
    for name in ("mae", "dsmae"):  # pretrained by the job: its run folder and record
        run = tmp_path / "out" / "runs" / f"{name}_seed0"
        record = json.loads((run / "run_config.json").read_text())
        assert record["crop_scale_min"] == 0.35 and record["overrides"]["encoder_dim"] == 32
        assert (run / "encoder.keras").exists()
    scores = results["results"]["dsmae"]["runs"][0]["scores"]
    assert set(scores) == {"knn", "linear", "finetune"} and all(0 <= v <= 1 for v in scores.values())
    assert "minus MAE" in results["differences"] and (tmp_path / "out" / "accuracy.png").stat().st_size > 0
    again = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=REPO, env=env)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert again.stdout.count("run already finished") == 2 and again.stdout.count("cached student scores") == 3
    # at MAE's FLOPs: MAE's run is found, four masks per image pretrain in fewer steps (in a folder
    # named for the budget)
    matched = subprocess.run(command + ["--match=flops", "--flops_of=mae", "--configs=pixels,mae,dsmae_m4"],
                             capture_output=True, text=True, timeout=900, cwd=REPO, env=env)
    assert matched.returncode == 0, matched.stdout[-3000:] + matched.stderr[-3000:]
    assert matched.stdout.count("run already finished") == 1 and "dsmae_m4_1xmae_seed0" in matched.stdout
    results = json.loads((tmp_path / "out" / "results.json").read_text())["results"]
    mae_flops, copies_flops = (results[name]["runs"][0]["flops"] for name in ("mae", "dsmae_m4"))
    assert 0.5 * mae_flops < copies_flops <= 1.5 * mae_flops and "epochs)" in results["dsmae_m4"]["label"]
    record = json.loads((tmp_path / "out" / "runs" / "dsmae_m4_1xmae_seed0" / "run_config.json").read_text())
    assert record["steps_per_epoch"] < 3  # 192 images at batch 64: MAE's 3 steps a pass
    assert (tmp_path / "out" / "compute.png").stat().st_size > 0
    changed = subprocess.run(command + ["--configs=mae", "--learning_rate=0.002"], capture_output=True,
                             text=True, timeout=900, cwd=REPO, env=env)
    assert changed.returncode == 0, changed.stdout[-3000:] + changed.stderr[-3000:]
    assert "pretrained with other settings" in changed.stdout and "cached student" not in changed.stdout
    from quality.budget import Budget  # the script makes its Budget from the flags before any work
    with pytest.raises(ValueError, match=r"`configs`: unknown \['no_such_row'\]"):
        Budget(configs="mae,no_such_row")
    with pytest.raises(ValueError, match=r"`baseline` must be one of `configs`"):
        Budget(configs="mae", baseline="dsmae")
    with pytest.raises(ValueError, match=r"`flops_of` must be one pretrained row.*got flops_of='pixels'"):
        Budget(match="flops", flops_of="pixels")
