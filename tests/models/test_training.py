"""DSMAE trains with the default `fit` and logs each loss term."""

import keras
import numpy as np
import pytest

import keras_dsmae
from tests.helpers.builders import structured_images, tiny_model, to_numpy


def fit(model, images, epochs, batch_size=8, callbacks=None, labels=None, lr=3e-3):
    model.compile(optimizer=keras.optimizers.AdamW(lr, weight_decay=0.0))
    return model.fit(
        images,
        labels,
        batch_size=batch_size,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=callbacks if callbacks is not None else [keras_dsmae.callbacks.TeacherEMA()],
    ).history


def test_dsmae_loss_falls_when_overfitting_a_handful_of_images():
    model = tiny_model(noise_std=0.1, seed=0)
    history = fit(model, structured_images(8), epochs=40)
    assert set(history) >= {"loss", "pixel_loss", "feature_loss", "teacher_momentum"}
    assert history["pixel_loss"][-1] < 0.6 * history["pixel_loss"][0]
    assert history["loss"][-1] < 0.8 * history["loss"][0]
    assert all(np.isfinite(history["loss"]))


def test_logged_loss_is_the_weighted_sum_of_the_terms():
    model = tiny_model(loss_weight=0.5, seed=1)
    history = fit(model, structured_images(16), epochs=1, batch_size=16)
    expected = history["pixel_loss"][0] + 0.5 * history["feature_loss"][0]
    np.testing.assert_allclose(history["loss"][0], expected, rtol=1e-5)


def test_mae_configuration_has_no_teacher_and_no_feature_loss():
    model = tiny_model(noise_std=0.0, loss_weight=0.0, seed=0)
    assert model.teacher is None
    assert model.decoder.feature_head is None
    assert "features" not in model(structured_images(2))
    assert not any("teacher" in w.path for w in model.weights)
    with pytest.warns(UserWarning, match="no teacher"):
        history = fit(model, structured_images(8), epochs=10)
    assert "feature_loss" not in history
    np.testing.assert_allclose(history["loss"], history["pixel_loss"], rtol=1e-6)
    assert history["loss"][-1] < 0.7 * history["loss"][0]


def test_same_seed_reproduces_the_losses_with_or_without_labels_and_another_seed_differs():
    images = structured_images(16)

    def run(seed, labels=None):
        keras.utils.set_random_seed(0)
        return fit(tiny_model(seed=seed, noise_std=0.2), images, epochs=1, labels=labels)

    first, with_labels, other = run(5), run(5, labels=np.arange(16)), run(6)  # labels are ignored
    for key in ("loss", "pixel_loss", "feature_loss"):
        np.testing.assert_allclose(first[key], with_labels[key], rtol=1e-6)
    assert abs(first["loss"][0] - other["loss"][0]) > 1e-6


def test_sdae_style_teacher_sees_masked_folds_only():
    model = tiny_model(
        teacher_target="masked", num_folds=3, pixel_loss_weight=0.0, noise_std=0.0, seed=3
    )
    assert model.decoder.pixel_head is None
    history = fit(model, structured_images(8), epochs=6)
    assert "pixel_loss" not in history
    assert history["feature_loss"][-1] < history["feature_loss"][0]
    # The teacher target of a fold depends only on the tokens of that fold.
    clean = keras.ops.cast(model.encoder.patchify(structured_images(2)), "float32")
    ids = np.tile(np.arange(4, 16, dtype="int32"), (2, 1))
    targets = to_numpy(model.teacher_target(model.teacher, clean, ids, num_views=1))
    changed = to_numpy(clean).copy()
    changed[:, 15] += 3.0  # patch 15 belongs to the last fold (masked ids 12..15)
    targets_changed = to_numpy(model.teacher_target(model.teacher, changed, ids, num_views=1))
    np.testing.assert_allclose(targets_changed[:, :8], targets[:, :8], atol=1e-5)
    assert np.abs(targets_changed[:, 8:] - targets[:, 8:]).max() > 1e-3


def test_mv_mae_style_two_views_add_a_contrast_term_that_falls():
    model = tiny_model(noise_std=0.0, loss_weight=0.0, contrast_weight=1.0, seed=4)
    outputs = model(structured_images(3))
    assert tuple(outputs["embedding"].shape) == (6, 32)
    first, second = to_numpy(outputs["mask"])[:3], to_numpy(outputs["mask"])[3:]
    assert not np.array_equal(first, second)  # two different masks per image
    history = fit(model, structured_images(8), epochs=15)
    assert history["contrast_loss"][0] > history["contrast_loss"][-1]
    np.testing.assert_allclose(
        history["loss"][-1], history["pixel_loss"][-1] + history["contrast_loss"][-1], rtol=1e-5
    )


def test_reconstruct_returns_images_and_pastes_visible_patches():
    model = tiny_model(noise_std=0.0, seed=5)
    images = structured_images(2)
    out = {k: to_numpy(v) for k, v in model.reconstruct(images).items()}
    assert {k: v.shape for k, v in out.items()} == {
        k: (2, 16, 16, 3) for k in ("corrupted", "reconstruction", "pasted")
    }
    visible = np.abs(out["corrupted"]).sum(axis=-1) > 0
    np.testing.assert_allclose(out["pasted"][visible], images[visible], atol=1e-5)
    assert visible.mean() == pytest.approx(0.25, abs=0.01)  # 4 of 16 patches visible


def test_encoder_is_a_plain_backbone_with_pooling_options():
    model = tiny_model()
    images = structured_images(3)
    tokens = to_numpy(model.encoder(images))
    assert tokens.shape == (3, 17, 32)  # class token + 16 patches
    config = {**model.encoder.get_config(), "pooling": "mean"}
    pooled_encoder = keras_dsmae.ViTEncoder.from_config(config)
    pooled_encoder.build((None, 16, 16, 3))
    pooled_encoder.set_weights(model.encoder.get_weights())
    np.testing.assert_allclose(
        to_numpy(pooled_encoder(images)), tokens[:, 1:].mean(axis=1), atol=1e-5
    )
    classifier = keras.Sequential([pooled_encoder, keras.layers.Dense(10)])
    assert tuple(classifier(images).shape) == (3, 10)
