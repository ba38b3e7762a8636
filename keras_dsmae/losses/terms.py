"""Loss terms: one weighted loss each, with its own metric.

`DSMAE.compute_loss` sums its terms. A term reads what it needs from a
`LossInputs` and returns `weight × loss`; the unweighted loss goes to its
metric, logged under the term's name (`pixel_loss`, `feature_loss`,
`contrast_loss`, `image_loss`). Terms that learn from the teacher
(`uses_teacher`) are also scaled by `LossInputs.teacher_scale`, the
loss-weight warm-up.
"""

import dataclasses
from typing import Any, Callable

import keras
from keras import ops

from keras_dsmae.layers.masking import gather_tokens
from keras_dsmae.losses.functions import (
    feature_distillation_loss,
    info_nce_loss,
    normalize_tokens,
    pixel_reconstruction_loss,
)
from keras_dsmae.utils.token_math import spread_across_tokens


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
    learn from the teacher set `uses_teacher = True`.

    Args:
        weight: multiplier, > 0.
        metric_name: name of the metric (the log key).
    """

    uses_teacher = False

    def __init__(self, weight, metric_name, **kwargs):
        super().__init__(**kwargs)
        self.weight = float(weight)
        self.tracker = keras.metrics.Mean(name=metric_name)
        self.built = True

    def compute(self, inputs):
        raise NotImplementedError

    def weighted_loss(self, inputs):
        """`weight × compute(inputs)` (× `inputs.teacher_scale` for a term
        that uses the teacher), float32 scalar; updates the metric."""
        loss = self.compute(inputs)
        self.tracker.update_state(loss)
        weight = self.weight * inputs.teacher_scale if self.uses_teacher else self.weight
        return weight * loss


class PixelReconstructionTerm(LossTerm):
    """MSE between predicted and clean pixels of the masked patches (or of
    every patch with `denoise_visible`), on per-patch normalised targets
    with `norm_pix_loss`."""

    def __init__(self, weight, norm_pix_loss=True, denoise_visible=False, **kwargs):
        super().__init__(weight, "pixel_loss", **kwargs)
        self.norm_pix_loss = norm_pix_loss
        self.denoise_visible = denoise_visible

    def compute(self, inputs):
        views = ops.concatenate([inputs.clean_patches] * inputs.num_views, axis=0)
        weights = inputs.outputs["mask"]
        if self.denoise_visible:
            weights = ops.ones_like(weights)
        return pixel_reconstruction_loss(
            inputs.outputs["pixels"], views, weights, self.norm_pix_loss
        )


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
    KINDS = ("regression", "contrast")

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


class ContrastTerm(LossTerm):
    """Symmetric InfoNCE between the pooled encodings of two masked views
    of each image (MV-MAE)."""

    def __init__(self, weight, temperature=0.2, **kwargs):
        super().__init__(weight, "contrast_loss", **kwargs)
        self.temperature = temperature

    def compute(self, inputs):
        first, second = ops.split(inputs.outputs["embedding"], 2, axis=0)
        return info_nce_loss(first, second, self.temperature)
