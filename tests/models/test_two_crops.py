"""MV-MAE as its paper does it: two random resized crops of each image,
made inside the model (`contrast_views="crops"`)."""

import keras
import numpy as np
import pytest

import keras_dsmae
from keras_dsmae.layers.random_resized_crop import RandomResizedCrop
from tests.helpers.builders import structured_images, tiny_model, to_numpy


def _ramps(count, size=16):
    """Images whose value is the column index: `(count, size, size, 1)`."""
    row = np.arange(size, dtype="float32")
    return np.tile(row[None, None, :, None], (count, size, 1, 1))


@pytest.mark.parametrize("flip", [True, False])
def test_crops_are_resized_windows_of_the_image(flip):
    crops = to_numpy(RandomResizedCrop(scale=(0.2, 0.6), flip=flip, seed=0)(_ramps(32)))[..., 0]
    assert crops.shape == (32, 16, 16)
    steps = np.diff(crops, axis=2)
    increasing, decreasing = np.all(steps > 0, axis=(1, 2)), np.all(steps < 0, axis=(1, 2))
    assert np.all(increasing | decreasing)  # each one a (maybe mirrored) stretched window
    assert np.any(decreasing) == flip and np.any(increasing)
    spans = crops.max(axis=(1, 2)) - crops.min(axis=(1, 2))
    # a window of width sqrt(area × ratio) ≤ sqrt(0.6 × 4/3) ≈ 0.9 of the side: never all of it
    assert np.all(spans < 0.95 * 15) and np.all(spans > 0.3 * 15)
    assert crops.min() >= 0.0 and crops.max() <= 15.0
    # each image its own crop (boxes are whole pixels, as the host's are: few distinct widths)
    windows = np.round(np.stack([crops.min(axis=(1, 2)), spans], axis=1), 3)
    assert len(np.unique(windows, axis=0)) > 12


def test_a_bad_crop_scale_is_refused():
    with pytest.raises(ValueError, match=r"scale.*0 < low < high <= 1.*\(0.5, 0.5\)"):
        RandomResizedCrop(scale=(0.5, 0.5))
    with pytest.raises(ValueError, match=r"scale\[1\].*1.5"):
        RandomResizedCrop(scale=(0.5, 1.5))


def test_two_crops_give_each_view_its_own_clean_patches():
    model = tiny_model(contrast_weight=0.5, contrast_views="crops", seed=1)
    images = structured_images(3)
    outputs = model(images)
    clean = to_numpy(outputs["clean_patches"])
    assert clean.shape == (6, 16, 48)
    np.testing.assert_allclose(clean[:3], to_numpy(model.encoder.patchify(images)), atol=1e-6)
    assert np.abs(clean[3:] - clean[:3]).max() > 0.1  # the second view is another crop
    assert tuple(outputs["embedding"].shape) == (6, 32)
    assert "clean_patches" not in tiny_model(contrast_weight=0.5, seed=1)(images)


def test_two_crop_training_lowers_its_losses_and_survives_saving(tmp_path):
    model = tiny_model(contrast_weight=0.5, contrast_views="crops", seed=2)
    model.compile(optimizer=keras.optimizers.AdamW(3e-3))
    history = model.fit(structured_images(32), batch_size=8, epochs=5, verbose=0,
                        callbacks=[keras_dsmae.callbacks.TeacherEMA()]).history
    for key in ("loss", "pixel_loss", "feature_loss", "contrast_loss"):
        assert np.all(np.isfinite(history[key])), key
    assert history["pixel_loss"][-1] < history["pixel_loss"][0]
    assert history["contrast_loss"][-1] < history["contrast_loss"][0]
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.get_config()["contrast_views"] == "crops" and loaded.view_crop is not None
