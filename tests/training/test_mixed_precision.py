"""Training under mixed precision, through the pretraining job: finite
losses, float32 student, teacher and EMA, float32 losses, loss scaling with
float16, and the job's files."""

import keras
import numpy as np
import pytest

from tests.helpers.builders import TINY_JOB_AT_32, structured_images, to_numpy
from tests.helpers.jobs import STEPS, pretrain


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_the_job_trains_under_mixed_precision_keeping_float32_state(tmp_path, precision):
    # float16 with two inverse-block-masked copies of each image
    copies = {"masks_per_image": 2, "masking": "inverse_block"} if precision == "float16" else {}
    model, history = pretrain(tmp_path, epochs=2, mixed_precision=precision,
                              model_overrides={**TINY_JOB_AT_32, **copies})
    assert model.dtype_policy.name == f"mixed_{precision}"
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer) == (precision == "float16")
    for key in ("loss", "pixel_loss", "feature_loss"):
        assert np.isfinite(history.history[key]).all(), (key, history.history[key])
    for weight in model.teacher.weights + model.encoder.weights:
        assert keras.backend.standardize_dtype(weight.dtype) == "float32"
    assert all(np.isfinite(to_numpy(w)).all() for w in model.teacher.weights)
    assert int(to_numpy(model.ema_teacher.step)) == 2 * STEPS
    images = structured_images(2, size=32)
    outputs = model(images)
    assert keras.backend.standardize_dtype(outputs["pixels"].dtype) == precision
    loss = model.compute_loss(images, None, outputs, training=False)
    assert keras.backend.standardize_dtype(loss.dtype) == "float32"
    for produced in ("encoder.keras", "curves.png", "reconstructions/epoch_002.png"):
        assert (tmp_path / produced).stat().st_size > 0, produced
    encoder = keras.models.load_model(tmp_path / "encoder.keras")
    assert all(np.isfinite(to_numpy(w)).all() for w in encoder.weights)
