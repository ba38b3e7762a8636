"""Per-sample random masking (shuffle + gather) and its inverse."""

import math

import keras
from keras import ops

from keras_dsmae.layers.replica_seed import ReplicaSeedGenerator
from keras_dsmae.utils import validation


def gather_tokens(tokens, indices):
    """Pick tokens along the sequence axis.

    Args:
        tokens: `(B, N, D)`.
        indices: `(B, M)` integer positions into `N`.

    Returns:
        `(B, M, D)`.
    """
    return ops.take_along_axis(tokens, ops.expand_dims(indices, -1), axis=1)


def num_visible_patches(num_patches, mask_ratio):
    """`K = round(N * (1 - mask_ratio))`, checked to leave 1 <= K < N."""
    keep = int(math.floor(num_patches * (1.0 - mask_ratio) + 0.5))
    if keep < 1 or keep >= num_patches:
        raise ValueError(
            f"`mask_ratio`={mask_ratio} keeps {keep} of {num_patches} patches "
            f"visible; it must leave at least one patch visible and at least "
            f"one masked. Allowed for {num_patches} patches: mask_ratio in "
            f"[{1.5 / num_patches:.3f}, {1 - 0.5 / num_patches:.3f}) roughly."
        )
    return keep


@keras.saving.register_keras_serializable(package="keras_dsmae")
class RandomMasking(keras.layers.Layer):
    """Keep a random subset of `K = round(N * (1 - mask_ratio))` tokens per
    sample, each sample with its own permutation (argsort of uniform noise).

    Masking defines the pretext task, so it is applied at every call (not only
    in training). Randomness comes from a `keras.random.SeedGenerator`, so it
    works under `jit` and reproduces for a given `seed`.

    Args:
        mask_ratio: fraction of tokens to hide, in (0, 1).
        seed: optional int seed.

    Call arguments:
        tokens: `(B, N, D)` in patch order.

    Returns:
        dict with:
        visible: `(B, K, D)` the kept tokens, in shuffled order.
        mask: `(B, N)` float, 1 where a token is hidden, 0 where visible.
        ids_shuffle: `(B, N)` int, the permutation: first K kept, rest hidden.
        ids_restore: `(B, N)` int, inverse permutation (see
            `RestoreMaskedTokens`).
    """

    def __init__(self, mask_ratio, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.mask_ratio = validation.check_float(
            "mask_ratio", mask_ratio, 0.0, 1.0, low_open=True, high_open=True
        )
        self.seed = seed
        self.seed_generator = ReplicaSeedGenerator(seed)

    def call(self, tokens):
        num_patches = tokens.shape[1]
        keep = num_visible_patches(num_patches, self.mask_ratio)
        batch = ops.shape(tokens)[0]
        ids_shuffle = ops.cast(ops.argsort(self.scores(tokens), axis=1), "int32")
        ids_restore = ops.cast(ops.argsort(ids_shuffle, axis=1), "int32")
        visible = gather_tokens(tokens, ids_shuffle[:, :keep])
        hidden_in_shuffled_order = ops.concatenate(
            [ops.zeros((batch, keep)), ops.ones((batch, num_patches - keep))],
            axis=1,
        )
        mask = ops.take_along_axis(hidden_in_shuffled_order, ids_restore, axis=1)
        return {
            "visible": visible,
            "mask": mask,
            "ids_shuffle": ids_shuffle,
            "ids_restore": ids_restore,
        }

    def scores(self, tokens):
        """`(B, N)` random scores; the `keep` lowest of each row stay visible."""
        return keras.random.uniform(ops.shape(tokens)[:2], seed=self.seed_generator)

    def get_config(self):
        return {**super().get_config(), "mask_ratio": self.mask_ratio, "seed": self.seed}


@keras.saving.register_keras_serializable(package="keras_dsmae")
class RestoreMaskedTokens(keras.layers.Layer):
    """Put the visible tokens back in place and a learned mask token at every
    hidden position (the un-shuffle of `RandomMasking`).

    Call arguments:
        visible: `(B, K, D)` in the shuffled order of `RandomMasking`.
        ids_restore: `(B, N)` from `RandomMasking`.

    Returns:
        `(B, N, D)` in patch order.
    """

    def build(self, visible_shape, ids_restore_shape=None):
        self.mask_token = self.add_weight(
            name="mask_token",
            shape=(1, 1, visible_shape[-1]),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
        )

    def call(self, visible, ids_restore):
        batch, keep = ops.shape(visible)[0], visible.shape[1]
        num_patches = ids_restore.shape[1]
        mask_tokens = ops.broadcast_to(
            ops.cast(self.mask_token, visible.dtype),
            (batch, num_patches - keep, visible.shape[-1]),
        )
        shuffled = ops.concatenate([visible, mask_tokens], axis=1)
        return gather_tokens(shuffled, ids_restore)

    def compute_output_shape(self, visible_shape, ids_restore_shape):
        return (visible_shape[0], ids_restore_shape[1], visible_shape[-1])
