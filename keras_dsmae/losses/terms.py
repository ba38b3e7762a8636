"""Loss terms: one weighted loss each, with its own metric and its knobs.

`DSMAE.compute_loss` sums its terms. A term reads what it needs from a
`LossInputs` and returns `weight × loss`; the unweighted loss goes to its
metric, logged under the term's name (`pixel_loss`, `feature_loss`,
`contrast_loss`, `image_loss`). Terms that learn from the teacher
(`uses_teacher`) are also scaled by `LossInputs.teacher_scale`, the
loss-weight warm-up.

Each term is registered (`LOSS_TERMS`, in the order the terms are summed)
and owns its knobs: `KNOBS` holds its weight knob (`WEIGHT`; 0 leaves the
term out) and the others, under flat names, unique across terms, that
`DSMAE(...)`, presets, `--model_overrides` and the tuner use; the model
builds a term whose weight is > 0 with `from_settings`. A new term that
reads only what the model already outputs is this file:

    @register_loss_term("pixel_l1")
    class PixelL1Term(LossTerm):
        WEIGHT = "pixel_l1_weight"
        KNOBS = {"pixel_l1_weight": Knob(0.0, "weight of the L1 pixel term (0: off).", low=0.0,
                                         part="L1 pixel term")}

        def __init__(self, weight, **kwargs):
            super().__init__(weight, "pixel_l1_loss", **kwargs)

        def compute(self, inputs):
            ...  # a float32 scalar from inputs.outputs, inputs.clean_patches

(`tests/models/test_method_knobs.py` registers this term, with a second
knob, and trains with it.)
"""

import dataclasses
from typing import Any, Callable

import keras
from keras import ops

from keras_dsmae.layers.masking import gather_tokens
from keras_dsmae.losses.functions import (
    FEATURE_LOSSES,
    PIXEL_VARIANCES,
    RELEASE_0_2_VARIANCE,
    feature_distillation_loss,
    info_nce_loss,
    normalize_tokens,
    pixel_reconstruction_loss,
    pixel_target_statistics,
)
from keras_dsmae.utils.knob import Knob, knob_owner_registration, registered_knobs
from keras_dsmae.utils.token_math import spread_across_tokens

LOSS_TERMS = {}


def register_loss_term(name):
    """Class decorator: make a `LossTerm` part of every `DSMAE`, built
    (under the layer name `name`) when its weight knob is > 0, and
    serialisable (`get_config`, `.keras` files of a model built from parts)."""
    register = knob_owner_registration(LOSS_TERMS, name, "loss term", "term_name", check=_has_its_weight)

    def decorate(cls):
        return keras.saving.register_keras_serializable(package="keras_dsmae")(register(cls))
    return decorate


def _has_its_weight(name, cls):
    if cls.WEIGHT not in cls.KNOBS:
        raise ValueError(f"Loss term {name!r}: its weight knob `WEIGHT`={cls.WEIGHT!r} must be one of "
                         f"its KNOBS ({sorted(cls.KNOBS)}).")


def term_knobs():
    """`{flat name: Knob}` of every registered term's knobs, term by term."""
    return registered_knobs(LOSS_TERMS)


def build_loss_terms(settings):
    """The registered terms whose weight is > 0, in the order they are summed.

    Args:
        settings: `DSMAE`'s checked method knobs (flat names).
    """
    return [cls.from_settings(settings) for cls in LOSS_TERMS.values() if settings[cls.WEIGHT]]


def teacher_needed(settings):
    """Whether a term that learns from the teacher has a weight > 0."""
    return any(cls.uses_teacher and settings[cls.WEIGHT] for cls in LOSS_TERMS.values())


@dataclasses.dataclass
class LossInputs:
    """What the loss terms of one step see.

    Attributes:
        outputs: the model's output dict (see `DSMAE`): `"mask"` and
            `"ids_shuffle"` `(B', N)`, `"pixels"`, `"features"`, `"embedding"`.
        clean_patches: `(B, N, P)` float32 clean patches of the batch.
        num_views: views per image (1, or 2 for the contrast term); `B' =
            num_views × B`.
        num_visible: patches each view shows the student.
        teacher_targets: callable `(clean_patches, ids_masked) → (B', M, D)`
            teacher features at the masked positions, or None without a
            teacher.
        teacher_scale: float32 scalar in [0, 1] that multiplies the weight
            of every term that learns from the teacher (the loss-weight
            warm-up; 1 without one).
    """

    outputs: dict
    clean_patches: Any
    num_views: int
    num_visible: int
    teacher_targets: Callable = None
    teacher_scale: Any = 1.0
    _targets: Any = dataclasses.field(default=None, repr=False)

    @property
    def ids_masked(self):
        """`(B', M)` patch positions hidden from the student."""
        return self.outputs["ids_shuffle"][:, self.num_visible:]

    def targets(self):
        """`(B', M, D)` teacher targets at the masked positions, computed once
        per step however many terms read them."""
        if self._targets is None:
            self._targets = self.teacher_targets(self.clean_patches, self.ids_masked)
        return self._targets


class LossTerm(keras.layers.Layer):
    """A weighted loss with a `keras.metrics.Mean` of its unweighted value.

    Subclasses implement `compute(inputs) → scalar float32`; those that
    learn from the teacher set `uses_teacher = True`, and one that compares
    two views of each image sets `two_views = True` (the model then makes
    them); `reads_output` names the model output it needs (`"pixels"`,
    `"features"`, `"image_prediction"`), so that a model built from parts
    without that head is refused. A term that needs an output no part makes
    brings its own head: `build_head(encoder)` creates its weights and
    `head_outputs(encoded, encoder)` adds its entries to the model's
    outputs. A subclass keeps each constructor argument in the attribute of
    the same name (`get_config` reads it there). A registered term
    declares its knobs (see the module's docstring):

    - `WEIGHT`: the flat name of its weight knob;
    - `KNOBS`: `{flat name: Knob}` of its part, the weight's included; each
      one but the weight is a constructor argument (`Knob.argument`, else
      the flat name) unless it is in `MODEL_KNOBS`;
    - `MODEL_KNOBS`: knobs of its part that the model reads to make what
      the term needs (a head, a second view), not the term;
    - `SHARED_KNOBS`: `{another term's knob: constructor argument}` it reads too.

    Args:
        weight: multiplier, > 0.
        metric_name: name of the metric (the log key).
    """

    uses_teacher = False
    WEIGHT = None
    KNOBS = {}
    MODEL_KNOBS = ()
    SHARED_KNOBS = {}

    two_views = False
    reads_output = None

    @classmethod
    def argument_knobs(cls):
        """`{constructor argument: flat knob name}` of the term's arguments
        besides its weight: its own knobs (not `MODEL_KNOBS`) and `SHARED_KNOBS`."""
        arguments = {knob.argument or name: name for name, knob in cls.KNOBS.items()
                     if name != cls.WEIGHT and name not in cls.MODEL_KNOBS}
        return {**arguments, **{argument: name for name, argument in cls.SHARED_KNOBS.items()}}

    @classmethod
    def from_settings(cls, settings):
        """The term, its weight and arguments from `DSMAE`'s checked knobs."""
        arguments = {argument: settings[name] for argument, name in cls.argument_knobs().items()}
        return cls(settings[cls.WEIGHT], name=cls.term_name, **arguments)

    def __init__(self, weight, metric_name, **kwargs):
        super().__init__(**kwargs)
        self.weight = float(weight)
        self.tracker = keras.metrics.Mean(name=metric_name)
        self.built = True

    def compute(self, inputs):
        raise NotImplementedError

    def get_config(self):
        """The weight and every constructor argument (`argument_knobs`, read
        from the attribute of that name), and the layer's name and dtype."""
        arguments = {argument: getattr(self, argument) for argument in self.argument_knobs()}
        return {**super().get_config(), "weight": self.weight, **arguments}

    def build_head(self, encoder):
        """Build the weights of a head the term brings (trained with the
        model, saved under the term): none here. A term that needs an
        output the model does not make overrides this and `head_outputs`.

        Args:
            encoder: the student `ViTEncoder` (its `hidden_dim`,
                `num_patches`, `patch_dim`, `num_prefix_tokens`).
        """

    def head_outputs(self, encoded, encoder, training=False):
        """The term's own entries of the model's outputs (`{}` here).

        Args:
            encoded: `(B', num_prefix_tokens + K, D)` the student's encoding
                of the visible patches, in shuffled order.
            encoder: the student `ViTEncoder`.
            training: whether the model trains.
        """
        del encoded, encoder, training
        return {}

    def weighted_loss(self, inputs):
        """`weight × compute(inputs)` (× `inputs.teacher_scale` for a term
        that uses the teacher), float32 scalar; updates the metric."""
        loss = self.compute(inputs)
        self.tracker.update_state(loss)
        weight = self.weight * inputs.teacher_scale if self.uses_teacher else self.weight
        return weight * loss


@register_loss_term("pixel_reconstruction")
class PixelReconstructionTerm(LossTerm):
    """MSE between predicted and clean pixels of the masked patches (or of
    every patch with `denoise_visible`), on per-patch normalised targets
    with `norm_pix_loss`: facebookresearch/mae's loss with the defaults
    (`norm_pix_variance="unbiased"`). A config without `norm_pix_variance`
    (keras_dsmae 0.2's) loads with 0.2's biased variance."""

    reads_output = "pixels"
    WEIGHT = "pixel_loss_weight"
    KNOBS = {
        "pixel_loss_weight": Knob(
            1.0, "weight of the pixel term (0 removes it and the pixel head).", low=0.0, part="pixel term"),
        "norm_pix_loss": Knob(True, "per-patch normalised pixel targets (MAE).", kind="bool", part="pixel term"),
        "norm_pix_variance": Knob(
            "unbiased", "the per-patch variance of the normalised targets: `unbiased` (÷(P−1), as "
            "facebookresearch/mae and transformers) or `biased` (÷P, keras_dsmae 0.2).", kind="choice",
            choices=PIXEL_VARIANCES, part="pixel term"),
        "denoise_visible": Knob(
            False, "also reconstruct the visible (noisy) patches.", kind="bool", part="pixel term"),
    }

    def __init__(self, weight, norm_pix_loss=True, denoise_visible=False, norm_pix_variance="unbiased", **kwargs):
        super().__init__(weight, "pixel_loss", **kwargs)
        self.norm_pix_loss = norm_pix_loss
        self.denoise_visible = denoise_visible
        self.norm_pix_variance = norm_pix_variance

    @classmethod
    def from_config(cls, config):
        return cls(**{"norm_pix_variance": RELEASE_0_2_VARIANCE, **config})

    def target_statistics(self, clean_patches):
        """`(mean, std)` `(..., 1)` of each clean patch `(..., P)` that its
        normalised target divides by (to map predictions back to pixels)."""
        return pixel_target_statistics(clean_patches, self.norm_pix_variance)

    def compute(self, inputs):
        views = ops.concatenate([inputs.clean_patches] * inputs.num_views, axis=0)
        weights = inputs.outputs["mask"]
        if self.denoise_visible:
            weights = ops.ones_like(weights)
        return pixel_reconstruction_loss(
            inputs.outputs["pixels"], views, weights, self.norm_pix_loss, self.norm_pix_variance
        )


@register_loss_term("feature_distillation")
class FeatureDistillationTerm(LossTerm):
    """Distance (`kind`: cosine, mse, smooth_l1) between the student's
    feature predictions at the masked positions and the teacher's targets.

    Also logs `target_std` and `prediction_std`: the standard deviation of
    each feature across all masked tokens of the batch, averaged over
    features (data2vec's collapse check: it falls towards 0 when every
    token gets the same target or prediction). Under `tf.distribute` each
    replica takes it on its share of the batch and the replicas' values are
    averaged, so it differs slightly from one device's (1.6 % with two
    replicas of 4 of a batch of 8 in `tests/training/test_multi_device.py`); the losses are
    exact."""

    uses_teacher = True
    reads_output = "features"
    WEIGHT = "loss_weight"
    KNOBS = {
        "loss_weight": Knob(
            1.0, "weight of the feature-distillation term: the student's feature predictions against "
            "the teacher's targets at the masked positions (the seed's knob; 0 removes the term, and "
            "the teacher with it unless an image term needs one).", low=0.0, tune=(0.0, 2.0),
            tune_fixable=False, part="feature term"),
        "feature_loss": Knob(
            "cosine", "the feature term's distance.", kind="choice", choices=FEATURE_LOSSES,
            part="feature term", argument="kind"),
        "feature_predictor_depth": Knob(
            0, "0: the pixel decoder's last layer also predicts the features; >= 1: a separate "
            "predictor of this many blocks at encoder width (BootMAE, data2vec 2.0).", kind="int", low=0,
            tune=(0, 2), part="feature term"),
    }
    MODEL_KNOBS = ("feature_predictor_depth",)

    def __init__(self, weight, kind="cosine", **kwargs):
        super().__init__(weight, "feature_loss", **kwargs)
        self.kind = kind
        self.target_spread = keras.metrics.Mean(name="target_std")
        self.prediction_spread = keras.metrics.Mean(name="prediction_std")

    def compute(self, inputs):
        targets = inputs.targets()
        predictions = gather_tokens(inputs.outputs["features"], inputs.ids_masked)
        self.target_spread.update_state(spread_across_tokens(targets))
        self.prediction_spread.update_state(spread_across_tokens(predictions))
        return feature_distillation_loss(predictions, targets, self.kind)


@register_loss_term("image_level")
class ImageLevelTerm(LossTerm):
    """Image-level teacher term: the student's pooled encoding of the noisy,
    masked view, through the model's image head (`outputs["image_prediction"]`,
    `(B', D)`), against the mean of the teacher's targets over the masked
    positions (`(B', D)`, the clean image).

    `kind="regression"`: mean squared error to the per-image standardised
    mean target (data2vec 2.0's class-token loss). `kind="contrast"`:
    symmetric InfoNCE, the other images of the batch as negatives
    (CMAE-style noisy-student / clean-teacher contrast)."""

    uses_teacher = True
    reads_output = "image_prediction"
    KINDS = ("regression", "contrast")
    WEIGHT = "image_loss_weight"
    KNOBS = {
        "image_loss_weight": Knob(
            0.0, "weight of the image-level teacher term (0: off).", low=0.0, tune=(0.0, 1.0),
            part="image term"),
        "image_loss": Knob(
            "regression", "`regression` (pooled student → mean teacher target, MSE) or `contrast` "
            "(InfoNCE against the other images).", kind="choice", choices=KINDS, part="image term",
            argument="kind"),
    }
    SHARED_KNOBS = {"contrast_temperature": "temperature"}

    def __init__(self, weight, kind="regression", temperature=0.2, **kwargs):
        super().__init__(weight, "image_loss", **kwargs)
        self.kind = kind
        self.temperature = temperature

    def compute(self, inputs):
        prediction = inputs.outputs["image_prediction"]
        target = ops.stop_gradient(ops.mean(inputs.targets(), axis=1))
        if self.kind == "contrast":
            return info_nce_loss(prediction, target, self.temperature)
        return feature_distillation_loss(prediction, normalize_tokens(target), "mse")


@register_loss_term("contrast")
class ContrastTerm(LossTerm):
    """Symmetric InfoNCE between the pooled encodings of two views of each
    image (MV-MAE); the model makes the second view (`contrast_views`)."""

    two_views = True
    WEIGHT = "contrast_weight"
    KNOBS = {
        "contrast_weight": Knob(
            0.0, "weight of the InfoNCE term between two views of each image (0: one view).", low=0.0,
            part="contrast term"),
        "contrast_temperature": Knob(
            0.2, "InfoNCE temperature (contrast and image-contrast terms).", low=0.0, low_open=True,
            part="contrast term", argument="temperature"),
        "contrast_views": Knob(
            "masks", "the two views: `masks` (two masks and noise draws of the image) or `crops` (the "
            "image and a random resized crop of it, area 35–100 %, flipped half the time).",
            kind="choice", choices=("masks", "crops"), part="contrast term"),
    }
    MODEL_KNOBS = ("contrast_views",)

    def __init__(self, weight, temperature=0.2, **kwargs):
        super().__init__(weight, "contrast_loss", **kwargs)
        self.temperature = temperature

    def compute(self, inputs):
        first, second = ops.split(inputs.outputs["embedding"], 2, axis=0)
        return info_nce_loss(first, second, self.temperature)
