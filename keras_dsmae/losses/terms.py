"""Loss terms: one weighted loss each, with its own metric.

`DSMAE.compute_loss` sums its terms. A term reads what it needs from a
`LossInputs` and returns `weight × loss`; the unweighted loss goes to its
metric, logged under the term's name (`pixel_loss`, `feature_loss`,
`contrast_loss`).
"""

import dataclasses
from typing import Any, Callable

import keras
from keras import ops

from keras_dsmae.layers.masking import gather_tokens
from keras_dsmae.losses.functions import (
    feature_distillation_loss,
    info_nce_loss,
    pixel_reconstruction_loss,
)


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
    """

    outputs: dict
    clean_patches: Any
    num_views: int
    num_visible: int
    teacher_targets: Callable = None

    @property
    def ids_masked(self):
        """`(B', M)` patch positions hidden from the student."""
        return self.outputs["ids_shuffle"][:, self.num_visible:]


class LossTerm(keras.layers.Layer):
    """A weighted loss with a `keras.metrics.Mean` of its unweighted value.

    Subclasses implement `compute(inputs) → scalar float32`.

    Args:
        weight: multiplier, > 0.
        metric_name: name of the metric (the log key).
    """

    def __init__(self, weight, metric_name, **kwargs):
        super().__init__(**kwargs)
        self.weight = float(weight)
        self.tracker = keras.metrics.Mean(name=metric_name)
        self.built = True

    def compute(self, inputs):
        raise NotImplementedError

    def weighted_loss(self, inputs):
        """`weight × compute(inputs)`, float32 scalar; updates the metric."""
        loss = self.compute(inputs)
        self.tracker.update_state(loss)
        return self.weight * loss


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
    feature predictions at the masked positions and the teacher's targets."""

    def __init__(self, weight, kind="cosine", **kwargs):
        super().__init__(weight, "feature_loss", **kwargs)
        self.kind = kind

    def compute(self, inputs):
        ids_masked = inputs.ids_masked
        targets = inputs.teacher_targets(inputs.clean_patches, ids_masked)
        predictions = gather_tokens(inputs.outputs["features"], ids_masked)
        return feature_distillation_loss(predictions, targets, self.kind)


class ContrastTerm(LossTerm):
    """Symmetric InfoNCE between the pooled encodings of two masked views
    of each image (MV-MAE)."""

    def __init__(self, weight, temperature=0.2, **kwargs):
        super().__init__(weight, "contrast_loss", **kwargs)
        self.temperature = temperature

    def compute(self, inputs):
        first, second = ops.split(inputs.outputs["embedding"], 2, axis=0)
        return info_nce_loss(first, second, self.temperature)
