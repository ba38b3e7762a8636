"""`.keras` files round-trip the whole model (teacher and EMA state
included) and the encoder on its own."""

import keras
import numpy as np

import keras_dsmae
from tests.helpers.builders import structured_images, tiny_model, to_numpy
from tests.helpers.paths import REPO


def test_trained_model_round_trips_with_teacher_schedule_and_optimizer(tmp_path):
    model = tiny_model(seed=0, drop_path_rate=0.1)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    images = structured_images(8)
    model.fit(images, batch_size=4, epochs=2, verbose=0,
              callbacks=[keras_dsmae.callbacks.TeacherEMA()])
    path = tmp_path / "dsmae.keras"
    model.save(path)
    loaded = keras.models.load_model(path)

    assert isinstance(loaded, keras_dsmae.DSMAE)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_allclose(
        to_numpy(loaded.encoder(images)), to_numpy(model.encoder(images)), atol=1e-6
    )
    for a, b in zip(loaded.teacher.weights, model.teacher.weights):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b))
    # The teacher was trained away from the student, so this is not a copy.
    assert any(
        np.abs(to_numpy(t) - to_numpy(s)).max() > 0
        for t, s in zip(loaded.teacher.weights, loaded.encoder.weights)
    )
    assert int(to_numpy(loaded.ema_teacher.step)) == 4
    assert float(to_numpy(loaded.ema_teacher.total_steps)) == 4
    assert loaded.ema_teacher.current_momentum() == model.ema_teacher.current_momentum()
    assert int(to_numpy(loaded.optimizer.iterations)) == 4
    assert loaded.teacher.trainable_weights == []
    # The loaded model keeps training from where it stopped.
    loaded.fit(images, batch_size=4, epochs=1, verbose=0,
               callbacks=[keras_dsmae.callbacks.TeacherEMA(total_steps=10)])
    assert int(to_numpy(loaded.ema_teacher.step)) == 6


def test_mae_model_round_trips_without_teacher(tmp_path):
    model = tiny_model(noise_std=0.0, loss_weight=0.0)
    path = tmp_path / "mae.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.teacher is None
    images = structured_images(2)
    np.testing.assert_allclose(
        to_numpy(loaded.encoder(images)), to_numpy(model.encoder(images)), atol=1e-6
    )


def test_encoder_alone_saves_and_loads(tmp_path):
    model = tiny_model(seed=1)
    images = structured_images(3)
    path = tmp_path / "encoder.keras"
    model.encoder.save(path)
    encoder = keras.models.load_model(path)
    assert isinstance(encoder, keras_dsmae.ViTEncoder)
    np.testing.assert_allclose(to_numpy(encoder(images)), to_numpy(model.encoder(images)), atol=1e-6)


def test_preset_model_config_round_trip_and_listing():
    names = keras_dsmae.presets.list_presets()
    assert {"dsmae_vit_tiny_cifar", "dsmae_vit_tiny_stl10", "mae_vit_tiny_cifar"} <= set(names)
    model = keras_dsmae.DSMAE.from_preset(
        "dsmae_vit_tiny_cifar", encoder_depth=1, decoder_depth=1, mask_ratio=0.6
    )
    assert model.encoder.hidden_dim == 192 and model.encoder.num_heads == 3
    assert model.encoder.num_patches == 64 and model.get_config()["mask_ratio"] == 0.6
    clone = keras_dsmae.DSMAE.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    stl = keras_dsmae.presets.preset_config("dsmae_vit_tiny_stl10")
    assert stl["image_size"] == 96 and stl["encoder_depth"] == 12
    mae = keras_dsmae.DSMAE.from_preset("mae_vit_tiny_cifar", encoder_depth=1, decoder_depth=1)
    assert mae.teacher is None


SAVE_ON_ANOTHER_BACKEND = """
import sys, keras, numpy as np
sys.path.insert(0, {REPO!r})
from tests.helpers.builders import structured_images, tiny_model
model = tiny_model(seed=0)
model.compile(optimizer=keras.optimizers.AdamW(1e-3))
model.fit(structured_images(4), batch_size=2, epochs=1, verbose=0)
model.save({path!r})
"""


def test_a_compiled_model_saved_on_another_backend_loads_and_trains(tmp_path):
    import os
    import subprocess
    import sys

    other = "jax" if keras.backend.backend() == "torch" else "torch"  # jax records jit_compile=True
    path = str(tmp_path / f"saved_on_{other}.keras")
    script = SAVE_ON_ANOTHER_BACKEND.format(REPO=REPO, path=path)
    saved = subprocess.run([sys.executable, "-c", script], env={**os.environ, "KERAS_BACKEND": other},
                           capture_output=True, text=True, timeout=300)
    assert saved.returncode == 0, saved.stderr[-3000:]
    loaded = keras.models.load_model(path)
    assert loaded.jit_compile is (keras.backend.backend() == "jax")  # this backend's own "auto"
    history = loaded.fit(structured_images(4), batch_size=2, epochs=1, verbose=0,
                         callbacks=[keras_dsmae.callbacks.TeacherEMA()])
    assert np.isfinite(history.history["loss"]).all()
    assert int(to_numpy(loaded.optimizer.iterations)) == 4
