"""The pure loss functions and the loss terms, against numpy."""

import math

import keras
import numpy as np
import pytest

from keras_dsmae import losses
from tests.helpers.builders import to_numpy

RNG = np.random.RandomState(0)


def _standardized(x, ddof=0):
    return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True, ddof=ddof) + 1e-6)


def test_normalize_tokens_gives_zero_mean_unit_variance_in_float32():
    tokens = RNG.normal(3.0, 5.0, size=(2, 4, 16)).astype("float32")
    normalized = losses.normalize_tokens(keras.ops.cast(tokens, "bfloat16"))
    assert keras.backend.standardize_dtype(normalized.dtype) == "float32"
    np.testing.assert_allclose(to_numpy(losses.normalize_tokens(tokens)), _standardized(tokens), atol=1e-5)


def test_pixel_loss_averages_the_squared_error_of_the_weighted_patches_only():
    predicted = RNG.normal(size=(2, 3, 4)).astype("float32")
    target = RNG.normal(size=(2, 3, 4)).astype("float32")
    weights = np.array([[1, 0, 1], [0, 0, 1]], "float32")
    per_patch = ((predicted - target) ** 2).mean(-1)
    expected = (per_patch * weights).sum() / weights.sum()
    actual = to_numpy(losses.pixel_reconstruction_loss(predicted, target, weights))
    np.testing.assert_allclose(actual, expected, rtol=1e-5)
    # An error on an unweighted (visible) patch does not count.
    shifted = predicted.copy()
    shifted[0, 1] += 10.0
    np.testing.assert_allclose(to_numpy(losses.pixel_reconstruction_loss(shifted, target, weights)), expected, rtol=1e-5)


def test_pixel_loss_with_norm_pix_loss_compares_with_normalised_targets():
    """MAE's targets divide by the unbiased per-patch std (torch's `.var`);
    0.2's by the biased one, 1 - sqrt(11/12) = 4 % smaller on 12 values."""
    target = RNG.normal(2.0, 3.0, size=(1, 5, 12)).astype("float32")
    weights = np.ones((1, 5), "float32")
    for variance, ddof in (("unbiased", 1), ("biased", 0)):
        exact = float(to_numpy(losses.pixel_reconstruction_loss(
            _standardized(target, ddof), target, weights, True, norm_pix_variance=variance)))
        other = float(to_numpy(losses.pixel_reconstruction_loss(
            _standardized(target, 1 - ddof), target, weights, True, norm_pix_variance=variance)))
        assert exact < 1e-10 < 1e-4 < other, variance
    assert float(to_numpy(losses.pixel_reconstruction_loss(_standardized(target, 1), target, weights, True))) < 1e-10
    assert float(to_numpy(losses.pixel_reconstruction_loss(target, target, weights, True))) > 1.0


def test_feature_losses_match_their_formulas():
    predicted = RNG.normal(size=(2, 3, 8)).astype("float32")
    target = RNG.normal(size=(2, 3, 8)).astype("float32")
    unit = lambda x: x / np.linalg.norm(x, axis=-1, keepdims=True)  # noqa: E731
    cosine = 1.0 - (unit(predicted) * unit(target)).sum(-1).mean()
    difference = predicted - target
    smooth = np.where(np.abs(difference) < 1, 0.5 * difference**2, np.abs(difference) - 0.5).mean()
    for kind, expected in (("cosine", cosine), ("mse", (difference**2).mean()), ("smooth_l1", smooth)):
        actual = to_numpy(losses.feature_distillation_loss(predicted, target, kind))
        np.testing.assert_allclose(actual, expected, rtol=1e-5, err_msg=kind)
    np.testing.assert_allclose(to_numpy(losses.feature_distillation_loss(target, target)), 0.0, atol=1e-6)
    np.testing.assert_allclose(to_numpy(losses.feature_distillation_loss(-target, target)), 2.0, rtol=1e-5)
    with pytest.raises(ValueError, match=r"feature_loss.*'l1'"):
        losses.feature_distillation_loss(predicted, target, "l1")


def test_info_nce_is_log_batch_for_identical_embeddings_and_near_zero_for_matched_ones():
    same = np.ones((4, 8), "float32")
    np.testing.assert_allclose(to_numpy(losses.info_nce_loss(same, same, 0.2)), math.log(4), rtol=1e-5)
    distinct = np.eye(4, 8, dtype="float32")
    assert float(to_numpy(losses.info_nce_loss(distinct, distinct, 0.05))) < 1e-6
    first, second = RNG.normal(size=(2, 5, 8)).astype("float32")
    np.testing.assert_allclose(
        to_numpy(losses.info_nce_loss(first, second, 0.2)), to_numpy(losses.info_nce_loss(second, first, 0.2)), rtol=1e-5
    )


def test_a_loss_term_returns_its_weighted_loss_and_logs_the_unweighted_one():
    patches = RNG.normal(size=(2, 3, 4)).astype("float32")
    outputs = {"pixels": np.zeros_like(patches), "mask": np.ones((2, 3), "float32"),
               "ids_shuffle": np.tile(np.arange(3, dtype="int32"), (2, 1))}
    inputs = losses.LossInputs(outputs=outputs, clean_patches=patches, num_views=1, num_visible=1)
    term = losses.PixelReconstructionTerm(0.5, norm_pix_loss=False)
    weighted = float(to_numpy(term.weighted_loss(inputs)))
    np.testing.assert_allclose(weighted, 0.5 * (patches**2).mean(), rtol=1e-5)
    assert term.tracker.name == "pixel_loss"
    np.testing.assert_allclose(float(to_numpy(term.tracker.result())), (patches**2).mean(), rtol=1e-5)
    np.testing.assert_array_equal(to_numpy(inputs.ids_masked), [[1, 2], [1, 2]])
