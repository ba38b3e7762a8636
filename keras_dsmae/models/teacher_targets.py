"""Teacher-target strategies: what the teacher computes for the student's
feature head to predict.

Each strategy is a small class registered under the `teacher_view` name
that selects it (`DSMAE(teacher_view=...)`). A new strategy is one class:

    @register_teacher_target("my_view")
    class MyTarget(TeacherTarget):
        def encode(self, teacher, clean_patches, ids_masked, num_views):
            ...  # (B', M, D) teacher features at the masked positions

plus, if wanted, a preset entry that uses `teacher_view="my_view"`.
"""

from keras import ops

from keras_dsmae.layers.masking import gather_tokens
from keras_dsmae.losses.functions import normalize_tokens
from keras_dsmae.utils.token_math import standardize_tokens

TEACHER_TARGETS = {}


def register_teacher_target(name):
    """Class decorator: make a `TeacherTarget` selectable as `teacher_view=name`."""
    def register(cls):
        cls.name = name
        TEACHER_TARGETS[name] = cls
        return cls

    return register


def build_teacher_target(teacher_view, num_folds, num_masked):
    """The strategy registered as `teacher_view` (a name `DSMAE` has checked
    against `TEACHER_TARGETS`), which checks `num_folds` against the model's
    settings (a `ValueError` naming the argument otherwise)."""
    return TEACHER_TARGETS[teacher_view](num_folds=num_folds, num_masked=num_masked)


class TeacherTarget:
    """Base class: normalised teacher features at the masked positions.

    Args:
        num_folds: `DSMAE`'s `num_folds`; only strategies that split the
            masked patches accept a value other than 1.
        num_masked: masked patches per view, `M`.

    Call arguments:
        teacher: the teacher `ViTEncoder`.
        clean_patches: `(B, N, P)` float32 clean patches.
        ids_masked: `(B', M)` masked positions of each view (`B' = B` or `2B`).
        num_views: 1 or 2.

    Returns:
        `(B', M, D)` float32 targets, per-token normalised, no gradient.
    """

    name = None

    def __init__(self, num_folds=1, num_masked=None):
        if num_folds != 1:
            raise ValueError(
                f"`num_folds`={num_folds} needs `teacher_view`='masked'; got "
                f"teacher_view={self.name!r}. Allowed: num_folds=1 with "
                f"teacher_view={self.name!r}."
            )
        self.num_folds = num_folds
        self.num_masked = num_masked

    def encode(self, teacher, clean_patches, ids_masked, num_views):
        """`(B', M, D)` raw teacher features; implemented by subclasses."""
        raise NotImplementedError

    def __call__(self, teacher, clean_patches, ids_masked, num_views):
        targets = self.encode(teacher, clean_patches, ids_masked, num_views)
        return ops.stop_gradient(normalize_tokens(targets))


def _at_masked_positions(patch_tokens, ids_masked, num_views):
    """`(B, N, D)` per-image tokens → `(B', M, D)` at each view's masked positions."""
    views = ops.concatenate([patch_tokens] * num_views, axis=0)
    return gather_tokens(views, ids_masked)


@register_teacher_target("full")
class FullImageTarget(TeacherTarget):
    """The teacher encodes every clean patch; its outputs at the positions
    hidden from the student are the targets (DSD-MAE's default)."""

    def encode(self, teacher, clean_patches, ids_masked, num_views):
        encoded = teacher.encode_tokens(teacher.embed(clean_patches))
        return _at_masked_positions(encoded[:, teacher.num_prefix_tokens:], ids_masked, num_views)


@register_teacher_target("masked")
class MaskedFoldsTarget(TeacherTarget):
    """SdAE: the teacher sees only the masked patches, split into
    `num_folds` short sequences of `M / num_folds` patches each."""

    def __init__(self, num_folds=1, num_masked=None):
        if num_masked % num_folds:
            raise ValueError(
                f"`num_folds` must divide the {num_masked} masked patches; got "
                f"num_folds={num_folds}."
            )
        self.num_folds = num_folds
        self.num_masked = num_masked

    def encode(self, teacher, clean_patches, ids_masked, num_views):
        hidden = _at_masked_positions(teacher.embed(clean_patches), ids_masked, num_views)
        fold_length = self.num_masked // self.num_folds
        folds = ops.reshape(hidden, (-1, fold_length, teacher.hidden_dim))
        encoded = teacher.encode_tokens(folds)[:, teacher.num_prefix_tokens:]
        return ops.reshape(encoded, (-1, self.num_masked, teacher.hidden_dim))


@register_teacher_target("layer_average")
class LayerAverageTarget(TeacherTarget):
    """data2vec: the mean of the teacher's last `NUM_LAYERS` block outputs
    (each instance-normalised) on the clean image, at the masked positions."""

    NUM_LAYERS = 6

    def encode(self, teacher, clean_patches, ids_masked, num_views):
        blocks = teacher.block_outputs(teacher.embed(clean_patches))[-self.NUM_LAYERS:]
        average = sum(standardize_tokens(ops.cast(b, "float32")) for b in blocks) / len(blocks)
        return _at_masked_positions(average[:, teacher.num_prefix_tokens:], ids_masked, num_views)
