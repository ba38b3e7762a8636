import keras
import numpy as np
import pytest

from keras_dsmae import layers
from tests.helpers.builders import to_numpy


def test_patchify_unpatchify_round_trip_and_patch_content():
    images = np.random.RandomState(0).rand(2, 8, 12, 3).astype("float32")
    patches = layers.Patchify(4)(images)
    assert tuple(patches.shape) == (2, 6, 48)
    # second patch of the first row = rows 0..3, columns 4..7
    np.testing.assert_array_equal(
        to_numpy(patches)[1, 1], images[1, 0:4, 4:8, :].reshape(-1)
    )
    back = layers.Unpatchify(4, (8, 12), 3)(patches)
    np.testing.assert_array_equal(to_numpy(back), images)


def test_masking_keeps_exactly_k_per_sample_and_restore_inverts_shuffle():
    batch, num_patches, dim = 5, 16, 4
    tokens = np.random.RandomState(1).randn(batch, num_patches, dim).astype("float32")
    out = layers.RandomMasking(0.75, seed=3)(tokens)
    keep = 4  # round(16 * 0.25)
    visible, mask = to_numpy(out["visible"]), to_numpy(out["mask"])
    ids_shuffle, ids_restore = to_numpy(out["ids_shuffle"]), to_numpy(out["ids_restore"])
    assert visible.shape == (batch, keep, dim)
    np.testing.assert_array_equal(mask.sum(axis=1), np.full(batch, num_patches - keep))
    for b in range(batch):
        assert sorted(ids_shuffle[b]) == list(range(num_patches))
        np.testing.assert_array_equal(ids_shuffle[b][ids_restore[b]], np.arange(num_patches))
        np.testing.assert_array_equal(visible[b], tokens[b, ids_shuffle[b, :keep]])
        np.testing.assert_array_equal(mask[b, ids_shuffle[b, :keep]], 0.0)
    # every sample gets its own permutation
    assert len({tuple(row) for row in ids_shuffle}) > 1

    restore = layers.RestoreMaskedTokens()
    full = to_numpy(restore(out["visible"], out["ids_restore"]))
    mask_token = to_numpy(restore.mask_token)[0, 0]
    for b in range(batch):
        for n in range(num_patches):
            expected = mask_token if mask[b, n] else tokens[b, n]
            np.testing.assert_allclose(full[b, n], expected, rtol=1e-6)


def test_masking_is_reproducible_with_a_seed_and_varies_between_calls():
    tokens = np.zeros((3, 16, 2), "float32")
    first = to_numpy(layers.RandomMasking(0.5, seed=7)(tokens)["ids_shuffle"])
    second = to_numpy(layers.RandomMasking(0.5, seed=7)(tokens)["ids_shuffle"])
    np.testing.assert_array_equal(first, second)
    layer = layers.RandomMasking(0.5, seed=7)
    assert not np.array_equal(to_numpy(layer(tokens)["ids_shuffle"]), to_numpy(layer(tokens)["ids_shuffle"]))


def test_noise_absent_at_zero_and_has_requested_std():
    patches = np.random.RandomState(2).randn(4, 64, 48).astype("float32")
    np.testing.assert_array_equal(to_numpy(layers.GaussianPatchNoise(0.0)(patches)), patches)
    noisy = to_numpy(layers.GaussianPatchNoise(0.3, seed=1)(patches))
    difference = noisy - patches
    assert abs(difference.std() - 0.3) < 0.02
    assert abs(difference.mean()) < 0.02


def test_sincos_table_is_fixed_and_distinguishes_positions():
    table = layers.sincos_position_table((4, 4), 16)
    assert table.shape == (16, 16)
    assert np.abs(table).max() <= 1.0
    distances = np.linalg.norm(table[:, None] - table[None], axis=-1)
    assert (distances + np.eye(16) > 1e-3).all()
    embedding = layers.SinCosPositionEmbedding((4, 4))
    out = to_numpy(embedding(np.zeros((2, 16, 16), "float32")))
    np.testing.assert_allclose(out[0], table, atol=1e-6)
    assert embedding.trainable_weights == []


def test_drop_path_drops_whole_samples_only_in_training():
    x = np.ones((2000, 3, 4), "float32")
    layer = layers.DropPath(0.25, seed=0)
    np.testing.assert_array_equal(to_numpy(layer(x, training=False)), x)
    out = to_numpy(layer(x, training=True))
    per_sample = out.reshape(2000, -1)
    np.testing.assert_allclose(
        np.unique(per_sample), [0.0, 1 / 0.75], rtol=1e-5
    )
    assert np.all(per_sample.min(axis=1) == per_sample.max(axis=1))
    assert abs((per_sample[:, 0] == 0).mean() - 0.25) < 0.05


def test_transformer_block_keeps_shape_and_attention_mixes_tokens():
    block = layers.TransformerBlock(16, 4, mlp_ratio=2.0)
    x = np.random.RandomState(0).randn(2, 5, 16).astype("float32")
    y = to_numpy(block(x))
    assert y.shape == (2, 5, 16)
    x2 = x.copy()
    x2[:, 4] += np.random.RandomState(1).randn(16)  # one token changes the others
    y2 = to_numpy(block(x2))
    assert np.abs(y2[:, 0] - y[:, 0]).max() > 1e-4


@pytest.mark.parametrize(
    "layer",
    [
        layers.Patchify(4),
        layers.Unpatchify(4, (8, 8), 3),
        layers.RandomMasking(0.6, seed=2),
        layers.GaussianPatchNoise(0.1, seed=3),
        layers.DropPath(0.1, seed=4),
        layers.PatchEmbedding(8),
        layers.SinCosPositionEmbedding((2, 3)),
        layers.MultiHeadSelfAttention(8, 2),
        layers.TransformerBlock(8, 2, mlp_ratio=3.0, drop_path_rate=0.1, seed=1),
        layers.RestoreMaskedTokens(),
    ],
    ids=lambda layer: type(layer).__name__,
)
def test_layer_config_round_trips_through_serialization(layer):
    serialized = keras.saving.serialize_keras_object(layer)
    clone = keras.saving.deserialize_keras_object(serialized)
    assert type(clone) is type(layer)
    assert clone.get_config() == layer.get_config()
