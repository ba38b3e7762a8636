"""The pretraining augmentation on the device: the batched crop-resize-flip
op against references, its box distribution against the host pipeline's,
its draws, and the model and pipelines that use it."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dsmae.layers import DeviceAugmentation, resized_crops
from tests.helpers.builders import tiny_model, to_numpy

SOURCE = (20, 24)


def _bilinear_reference(image, box, output_size):
    """Plain bilinear resize of the window `box` of `image`, pixel by pixel
    (half-pixel centres, edges repeated), written independently of the op."""
    top, left, height, width = (int(v) for v in box)
    window = image[top:top + height, left:left + width]
    out = np.zeros((*output_size, image.shape[-1]), "float64")
    for i in range(output_size[0]):
        y = min(max((i + 0.5) * height / output_size[0] - 0.5, 0.0), height - 1)
        y0 = int(np.floor(y))
        y1, fy = min(y0 + 1, height - 1), y - y0
        for j in range(output_size[1]):
            x = min(max((j + 0.5) * width / output_size[1] - 0.5, 0.0), width - 1)
            x0 = int(np.floor(x))
            x1, fx = min(x0 + 1, width - 1), x - x0
            top_row = (1 - fx) * window[y0, x0] + fx * window[y0, x1]
            bottom_row = (1 - fx) * window[y1, x0] + fx * window[y1, x1]
            out[i, j] = (1 - fy) * top_row + fy * bottom_row
    return out


BOXES = np.array([[0, 0, 20, 24], [3, 5, 9, 7], [2, 1, 17, 22], [5, 4, 12, 16], [7, 10, 13, 14]],
                 "float32")  # top, left, height, width: whole, upsampled, shrunk, mixed


@pytest.mark.parametrize("antialias", [False, True])
def test_crop_resize_flip_matches_references_for_the_same_boxes(antialias):
    """Without antialiasing: a per-pixel numpy bilinear resize of each box.
    With it (the default, for boxes larger than the output):
    `tf.image.resize(antialias=True)` of the cut window. Tolerance 2e-3 of a
    grey level: float32 sums of 0–255 values."""
    images = np.random.RandomState(0).uniform(0, 255, size=(5, *SOURCE, 2)).astype("float32")
    flips = np.array([False, True, False, True, True])
    out = to_numpy(resized_crops.crop_resize_flip(images, tuple(BOXES.T), flips, (12, 16), antialias))
    assert out.shape == (5, 12, 16, 2)
    for index, box in enumerate(BOXES):
        if antialias:
            top, left, height, width = box.astype(int)
            reference = tf.image.resize(images[index, top:top + height, left:left + width], (12, 16),
                                        method="bilinear", antialias=True).numpy()
        else:
            reference = _bilinear_reference(images[index], box, (12, 16))
        if flips[index]:
            reference = reference[:, ::-1]
        np.testing.assert_allclose(out[index], reference, atol=2e-3, err_msg=f"box {box}")


def test_crop_boxes_follow_the_host_pipelines_distribution():
    """10k device boxes against 10k of the host pipeline's
    `stateless_sample_distorted_bounding_box` (same ranges, 10 attempts)."""
    scale, count, size = (0.2, 1.0), 10_000, (32, 32)
    draws = keras.random.uniform((count, resized_crops.DRAWS_PER_IMAGE), seed=7)
    top, left, height, width = (to_numpy(v) for v in resized_crops.crop_boxes(draws, size, scale))
    flips = to_numpy(resized_crops.flip_draws(draws))
    area = height * width / (size[0] * size[1])
    assert np.all(height == np.round(height)) and np.all(top == np.round(top))
    assert np.all((top >= 0) & (left >= 0) & (top + height <= size[0]) & (left + width <= size[1]))
    assert area.min() >= scale[0] and area.max() <= scale[1]
    # width = round(ratio × height): the ratio is inside [3/4, 4/3] up to that rounding
    assert np.all(np.abs(width / height - np.clip(width / height, 3 / 4, 4 / 3)) <= 0.5 / height + 1e-6)
    assert abs(flips.mean() - 0.5) < 0.03

    def host_box(seed):
        _, crop_size, _ = tf.image.stateless_sample_distorted_bounding_box(
            (*size, 3), tf.constant([[[0.0, 0.0, 1.0, 1.0]]]), seed=seed, min_object_covered=0.0,
            aspect_ratio_range=(3 / 4, 4 / 3), area_range=scale, max_attempts=10,
            use_image_if_no_bounding_boxes=True)
        return crop_size[:2]

    seeds = tf.data.Dataset.random(seed=5).batch(2).take(count)
    host = next(seeds.map(host_box, num_parallel_calls=tf.data.AUTOTUNE).batch(count).as_numpy_iterator())
    host_area = host[:, 0] * host[:, 1] / (size[0] * size[1])
    assert area.mean() == pytest.approx(host_area.mean(), rel=0.02)
    assert area.std() == pytest.approx(host_area.std(), rel=0.05)
    assert np.mean(width / height) == pytest.approx(np.mean(host[:, 1] / host[:, 0]), rel=0.01)


def _augmentation(**overrides):
    return DeviceAugmentation(**{"image_size": 16, "mean": (0.5, 0.4, 0.3), "std": (0.2, 0.25, 0.3),
                                 "seed": 3, **overrides})


def test_draws_reproduce_from_the_seed_and_differ_per_step_and_image():
    images = np.random.RandomState(0).randint(0, 256, (6, *SOURCE, 3)).astype("uint8")
    first, second = _augmentation(), _augmentation()
    step_1, step_2 = to_numpy(first(images, training=True)), to_numpy(first(images, training=True))
    assert step_1.shape == (6, 16, 16, 3) and step_1.dtype == np.float32
    np.testing.assert_array_equal(step_1, to_numpy(second(images, training=True)))
    assert np.abs(step_1 - step_2).max() > 0.1  # a new draw each step
    same_image = np.repeat(images[:1], 6, axis=0)
    views = to_numpy(_augmentation(seed=4)(same_image, training=True))
    assert min(np.abs(views[i] - views[0]).max() for i in range(1, 6)) > 0.05  # each image its own box


def test_outside_training_the_whole_image_is_resized_and_normalised():
    images = np.random.RandomState(1).randint(0, 256, (2, 32, 32, 3)).astype("uint8")
    out = to_numpy(_augmentation()(images, training=False))
    shrunk = tf.image.resize(images / 255.0, (16, 16), method="bilinear", antialias=True).numpy()
    expected = (shrunk - np.array([0.5, 0.4, 0.3])) / np.array([0.2, 0.25, 0.3])
    np.testing.assert_allclose(out, expected, atol=1e-4)


def test_already_cropped_images_are_only_flipped_and_normalised():
    images = np.random.RandomState(2).randint(0, 256, (64, 16, 16, 1)).astype("uint8")
    out = to_numpy(_augmentation(mean=(0.5,), std=(0.25,), crop=False)(images, training=True))
    pixels = out * 0.25 + 0.5
    straight = np.all(np.abs(pixels - images / 255.0) < 1e-5, axis=(1, 2, 3))
    mirrored = np.all(np.abs(pixels - images[:, :, ::-1] / 255.0) < 1e-5, axis=(1, 2, 3))
    assert np.all(straight | mirrored) and 0 < mirrored.sum() < 64
    with pytest.raises(ValueError, match=r"crop=False.*image_size=\(16, 16\).*\(20, 24\)"):
        _augmentation(crop=False)(np.zeros((1, *SOURCE, 3), "uint8"))


def test_bad_augmentation_settings_are_refused():
    with pytest.raises(ValueError, match=r"crop_scale.*0 < low <= high <= 1.*\(0.5, 1.5\)"):
        _augmentation(crop_scale=(0.5, 1.5))
    with pytest.raises(ValueError, match=r"std > 0"):
        _augmentation(std=(0.2, 0.0, 0.1))
    with pytest.raises(ValueError, match=r"3 channel\(s\).*\(1, 20, 24, 1\)"):
        _augmentation()(np.zeros((1, *SOURCE, 1), "uint8"))


def test_the_mv_mae_crop_view_goes_through_the_same_op(monkeypatch):
    from keras_dsmae.layers import random_resized_crop

    calls = []
    original = random_resized_crop.crop_resize_flip
    monkeypatch.setattr(random_resized_crop, "crop_resize_flip",
                        lambda *args, **kwargs: calls.append(args[1]) or original(*args, **kwargs))
    model = tiny_model(contrast_weight=0.5, contrast_views="crops", seed=1)
    model(np.zeros((3, 16, 16, 3), "float32"))
    assert len(calls) == 1 and tuple(calls[0][0].shape) == (3,)  # one box per image
