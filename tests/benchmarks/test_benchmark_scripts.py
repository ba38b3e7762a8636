"""The prepared GPU command runs end to end (`--smoke`: tiny models on this
CPU), so that it works the day a GPU machine is lent."""

import json
import os
import subprocess
import sys

import keras
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
