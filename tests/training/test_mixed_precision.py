"""Training under mixed precision: finite losses, float32 teacher and EMA,
loss scaling with float16."""

import keras
import numpy as np
import pytest

import keras_dsmae
from tests.helpers.builders import structured_images, tiny_model, to_numpy
from tests.helpers.jobs import pretrain


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_trains_without_nan_and_keeps_float32_state(policy):
    model = tiny_model(seed=0, dtype=policy)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    if policy == "mixed_float16":
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    images = structured_images(8)
    outputs = model(images)
    half = policy.split("_")[1]
    assert keras.backend.standardize_dtype(outputs["pixels"].dtype) == half
    history = model.fit(images, batch_size=4, epochs=3, verbose=0,
                        callbacks=[keras_dsmae.callbacks.TeacherEMA()]).history
    for key in ("loss", "pixel_loss", "feature_loss"):
        assert np.all(np.isfinite(history[key])), (key, history[key])
    assert history["loss"][-1] < history["loss"][0]
    for weight in model.teacher.weights + model.encoder.weights:
        assert keras.backend.standardize_dtype(weight.dtype) == "float32"
    assert all(np.all(np.isfinite(to_numpy(w))) for w in model.teacher.weights)
    assert int(to_numpy(model.ema_teacher.step)) == 6
    loss = model.compute_loss(images, None, model(images), training=False)
    assert keras.backend.standardize_dtype(loss.dtype) == "float32"


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_pretraining_job_finishes_under_mixed_precision(tmp_path, precision):
    model, history = pretrain(tmp_path, epochs=2, mixed_precision=precision)
    assert model.dtype_policy.name == f"mixed_{precision}"
    assert np.isfinite(history.history["loss"]).all()
    for produced in ("encoder.keras", "curves.png", "reconstructions/epoch_002.png"):
        assert (tmp_path / produced).stat().st_size > 0, produced
    encoder = keras.models.load_model(tmp_path / "encoder.keras")
    assert all(np.isfinite(to_numpy(w)).all() for w in encoder.weights)
