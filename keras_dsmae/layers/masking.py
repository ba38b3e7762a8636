"""Masking strategies (which patches each sample hides, a fixed count
of them) and the inverse of the shuffle they make."""

import math

import keras
from keras import ops

from keras_dsmae.layers.replica_seed import ReplicaSeedGenerator
from keras_dsmae.utils import validation
from keras_dsmae.utils.knob import knob_owner_registration, registered_knobs


def gather_tokens(tokens, indices):
    """Pick tokens along the sequence axis.

    Args:
        tokens: `(B, N, D)`.
        indices: `(B, M)` integer positions into `N`.

    Returns:
        `(B, M, D)`.
    """
    return ops.take_along_axis(tokens, ops.expand_dims(indices, -1), axis=1)


# How `N * (1 - mask_ratio)` becomes a whole number of visible patches:
# "floor" as facebookresearch/mae and transformers' ViTMAE (`int(...)`, the
# default), "round" as keras_dsmae 0.2 (which its files keep).
VISIBLE_ROUNDINGS = ("floor", "round")
RELEASE_0_2_ROUNDING = "round"


def num_visible_patches(num_patches, mask_ratio, rounding="floor"):
    """`K`, the patches each image shows: `int(N * (1 - mask_ratio))` (the
    reference MAE's count, `rounding="floor"`) or `round(N * (1 -
    mask_ratio))` (`"round"`, keras_dsmae 0.2), checked to leave `1 <= K < N`.

    The floor is the same Python float expression as the reference's, so
    the two agree also where `N * (1 - mask_ratio)` is a hair below a whole
    number (`int(64 * (1 - 0.8)) = 12`, not 13)."""
    validation.check_choice("visible_rounding", rounding, VISIBLE_ROUNDINGS)
    visible = num_patches * (1.0 - mask_ratio)
    keep = int(visible) if rounding == "floor" else int(math.floor(visible + 0.5))
    if keep < 1 or keep >= num_patches:
        rule, allowed = (("int", f"(0, {1 - 1 / num_patches:.4f}]") if rounding == "floor" else
                         ("round", f"[{0.5 / num_patches:.4f}, {1 - 0.5 / num_patches:.4f}) roughly"))
        raise ValueError(
            f"`mask_ratio`={mask_ratio} keeps {rule}({num_patches} * (1 - {mask_ratio})) = {keep} of "
            f"{num_patches} patches visible; it must leave at least one patch visible and at least "
            f"one masked. Allowed for {num_patches} patches with visible_rounding={rounding!r}: "
            f"mask_ratio in {allowed}."
        )
    return keep


MASKING_STRATEGIES = {}


def register_masking(name):
    """Class decorator: make a `PatchMasking` subclass selectable as
    `DSMAE(masking=name)` (its `KNOBS` join the model's knob table) and
    serialisable."""
    register = knob_owner_registration(MASKING_STRATEGIES, name, "masking strategy", "strategy_name")

    def decorate(cls):
        return keras.saving.register_keras_serializable(package="keras_dsmae")(register(cls))
    return decorate


def masking_knobs():
    """`{flat name: Knob}` of every registered masking strategy's own knobs."""
    return registered_knobs(MASKING_STRATEGIES)


class PatchMasking(keras.layers.Layer):
    """Base class of the masking strategies: keep `K = int(N * (1 -
    mask_ratio))` tokens per sample, the `K` with the lowest score of
    `scores(tokens)`, so every strategy keeps exactly `K` and shapes stay
    static (`jit`, data parallelism).

    Masking defines the pretext task, so it is applied at every call (not only
    in training). Randomness comes from a `keras.random.SeedGenerator` (one
    stream per data-parallel replica), so it works under `jit`, reproduces
    for a given `seed` and resumes from a checkpoint.

    A strategy is a subclass with `scores` and, for its own settings,
    `KNOBS` (flat names, unique across strategies, as the model's table
    takes them; each a constructor argument, `Knob.argument` or the flat
    name), registered with `@register_masking(name)`.

    Args:
        mask_ratio: fraction of tokens to hide, in (0, 1).
        seed: optional int seed.
        visible_rounding: `"floor"` (the reference's `int`, default) or
            `"round"` (keras_dsmae 0.2's count, which a 0.2 config without
            this key loads with).
        masks_per_image: `M`, the masked copies of each image the model
            makes (each with its own mask and noise; see `DSMAE`); the
            layer itself masks whatever batch it is given.

    Call arguments:
        tokens: `(B, N, D)` in patch order.
        scores: optional `(B, N)` floats that replace the strategy's draw: the
            `K` lowest of each row stay visible (transformers' `noise`
            argument of `ViTMAEForPreTraining`; for comparisons and demos).

    Returns:
        dict with:
        visible: `(B, K, D)` the kept tokens, in shuffled order.
        mask: `(B, N)` float, 1 where a token is hidden, 0 where visible.
        ids_shuffle: `(B, N)` int, the permutation: first K kept, rest hidden.
        ids_restore: `(B, N)` int, inverse permutation (see
            `RestoreMaskedTokens`).
    """

    KNOBS = {}
    strategy_name = None
    uses_grid = False  # True: the constructor takes `grid_size`, which the model fills with its encoder's

    def __init__(self, mask_ratio, seed=None, visible_rounding="floor", masks_per_image=1, **kwargs):
        super().__init__(**kwargs)
        self.mask_ratio = validation.check_float(
            "mask_ratio", mask_ratio, 0.0, 1.0, low_open=True, high_open=True
        )
        self.visible_rounding = validation.check_choice("visible_rounding", visible_rounding, VISIBLE_ROUNDINGS)
        self.masks_per_image = validation.check_int("masks_per_image", masks_per_image, minimum=1)
        self.seed = seed
        self.seed_generator = ReplicaSeedGenerator(seed)

    def num_visible(self, num_patches):
        """`K`, the visible patches of `num_patches` (see `num_visible_patches`)."""
        return num_visible_patches(num_patches, self.mask_ratio, self.visible_rounding)

    def call(self, tokens, scores=None):
        num_patches = tokens.shape[1]
        keep = self.num_visible(num_patches)
        batch = ops.shape(tokens)[0]
        scores = self.scores(tokens) if scores is None else ops.convert_to_tensor(scores, "float32")
        ids_shuffle = ops.cast(ops.argsort(scores, axis=1), "int32")
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
        """`(B, N)` float32 scores of `tokens` `(B, N, D)`; the `K` lowest of
        each row stay visible. Implemented by subclasses."""
        raise NotImplementedError

    def get_config(self):
        own = {knob.argument or name: getattr(self, knob.argument or name) for name, knob in self.KNOBS.items()}
        return {**super().get_config(), "mask_ratio": self.mask_ratio, "seed": self.seed,
                "visible_rounding": self.visible_rounding, "masks_per_image": self.masks_per_image, **own}

    @classmethod
    def from_config(cls, config):
        """A config without `visible_rounding` is keras_dsmae 0.2's: it keeps its count."""
        return cls(**{"visible_rounding": RELEASE_0_2_ROUNDING, **config})


@register_masking("random")
class RandomMasking(PatchMasking):
    """Uniform random masking, each sample with its own permutation (argsort
    of uniform noise), exactly as facebookresearch/mae's `random_masking`.
    Arguments, call arguments and outputs: `PatchMasking`."""

    def scores(self, tokens):
        """`(B, N)` uniform random scores."""
        return keras.random.uniform(ops.shape(tokens)[:2], seed=self.seed_generator)


@keras.saving.register_keras_serializable(package="keras_dsmae")
class RestoreMaskedTokens(keras.layers.Layer):
    """Put the visible tokens back in place and a learned mask token at every
    hidden position (the un-shuffle of a `PatchMasking`).

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
