"""Random draws and losses with two devices (each case in a subprocess, so
that the rest of the suite keeps one device). Multi-device training is not
yet a feature of the package (see README, Known limitations); these pin
down what its parts already do right."""

import json
import os
import subprocess
import sys

import keras
import pytest

PROBE = os.path.join(os.path.dirname(__file__), "helpers", "two_device_probe.py")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _probe(*args):
    result = subprocess.run([sys.executable, PROBE, *args], cwd=REPO, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute is TensorFlow's")
def test_tf_replicas_draw_their_own_masks_and_noise_and_replica_0_reproduces_one_device():
    facts = _probe("tensorflow")
    assert facts["replicas"] == 2
    assert facts["masks_differ"] and facts["noise_differs"]
    assert facts["replica_0_mask_is_one_device_mask"]


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="keras.distribution runs on JAX")
def test_jax_data_parallel_losses_equal_one_device_losses():
    two, one = _probe("jax", "2"), _probe("jax", "1")
    assert (two["devices"], one["devices"]) == (2, 1)
    assert two["ema_step"] == one["ema_step"] == 2  # the teacher moves once per global step
    for name, value in one["losses"].items():
        assert two["losses"][name] == pytest.approx(value, rel=1e-5), name
