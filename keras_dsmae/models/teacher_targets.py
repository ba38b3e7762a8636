"""Teacher-target strategies: what the teacher computes for the student's
feature head to predict.

Each strategy is a small class registered under the `teacher_target` name
that selects it (`DSMAE(teacher_target=...)`). A strategy owns its knobs: it
declares them in `KNOBS` (flat names, unique across strategies, that
presets, `--model_overrides` and the tuner use) and takes them as
constructor arguments. A new strategy, or a new knob of one, is this file:

    @register_teacher_target("my_view")
    class MyTarget(TeacherTarget):
        KNOBS = {"my_depth": Knob(2, "what it does.", kind="int", low=1,
                                  part="teacher target", argument="depth")}

        def __init__(self, depth=2, **common):
            self.depth = depth
            super().__init__(**common)

        def encode(self, teacher, clean_patches, ids_masked, num_views):
            ...  # (B', M, D) teacher features at the masked positions

plus, if wanted, a preset entry that uses `teacher_target="my_view"`.

A strategy is built from its own knobs alone (`MaskedFoldsTarget(num_folds=2)`,
a part that can be handed to `DSMAE(teacher_target=...)`); the model then
`bind`s it to its masked-patch count and encoder depth, where the strategy
checks that its knobs fit (`check_fit`). `get_config` returns the knobs and
`serialize_target` / `deserialize_target` write and read a strategy by its
registered name.
"""

from keras import ops

from keras_dsmae.layers.masking import gather_tokens
from keras_dsmae.losses.functions import normalize_tokens
from keras_dsmae.utils.knob import Knob, chosen_owner_arguments, knob_owner_registration, registered_knobs
from keras_dsmae.utils.token_math import standardize_tokens

TEACHER_TARGETS = {}


def register_teacher_target(name):
    """Class decorator: make a `TeacherTarget` selectable as `teacher_target=name`."""
    return knob_owner_registration(TEACHER_TARGETS, name, "teacher target", "name")


def target_knobs():
    """`{flat name: Knob}` of every registered strategy's knobs."""
    return registered_knobs(TEACHER_TARGETS)


def build_teacher_target(settings, num_masked, encoder_depth):
    """The strategy `settings["teacher_target"]` selects (a name `DSMAE` has
    checked against `TEACHER_TARGETS`), given its own knobs from `settings`.

    Args:
        settings: `DSMAE`'s checked method knobs (flat names).
        num_masked: masked patches per view, `M`.
        encoder_depth: blocks of the teacher encoder.

    Raises:
        ValueError: another strategy's knob is set away from its default
            (naming the knob and the strategy it needs), or the strategy
            refuses its knobs for this model.
    """
    cls, own = chosen_owner_arguments(TEACHER_TARGETS, "teacher_target", settings)
    return cls(**own).bind(num_masked, encoder_depth)


def serialize_target(target):
    """`{"name": registered name, "config": {knob argument: value}}` of a strategy."""
    return {"name": target.name, "config": target.get_config()}


def deserialize_target(target):
    """A strategy from a registered name, a `serialize_target` dict, or a
    `TeacherTarget` (returned as it is), unbound.

    Raises:
        ValueError: the name is not registered.
    """
    if isinstance(target, TeacherTarget):
        return target
    name, config = (target["name"], target.get("config", {})) if isinstance(target, dict) else (target, {})
    if name not in TEACHER_TARGETS:
        raise ValueError(f"`teacher_target` must be one of {sorted(TEACHER_TARGETS)}; got "
                         f"teacher_target={name!r}.")
    return TEACHER_TARGETS[name](**config)


class TeacherTarget:
    """Base class: normalised teacher features at the masked positions.

    Args:
        num_masked: masked patches per view, `M` (optional here: the model
            sets it with `bind`).
        encoder_depth: blocks of the teacher encoder (likewise).

    Call arguments:
        teacher: the teacher `ViTEncoder`.
        clean_patches: `(B, N, P)` float32 clean patches.
        ids_masked: `(B', M)` masked positions of each view (`B' = B` or `2B`).
        num_views: 1 or 2.

    Returns:
        `(B', M, D)` float32 targets, per-token normalised, no gradient.
    """

    name = None
    KNOBS = {}

    def __init__(self, num_masked=None, encoder_depth=None):
        self.num_masked = None
        self.encoder_depth = None
        if num_masked is not None or encoder_depth is not None:
            self.bind(num_masked, encoder_depth)

    def bind(self, num_masked, encoder_depth):
        """Fit the strategy to a model: `num_masked` masked patches per view
        and a teacher of `encoder_depth` blocks; returns `self`.

        Raises:
            ValueError: the strategy's knobs do not fit (see `check_fit`).
        """
        self.num_masked, self.encoder_depth = num_masked, encoder_depth
        self.check_fit()
        return self

    def check_fit(self):
        """Raise a `ValueError` naming the knob when the strategy's knobs do
        not fit `num_masked` / `encoder_depth`; subclasses add their checks."""

    def get_config(self):
        """`{argument: value}` of the strategy's own knobs (`KNOBS`), the
        arguments that rebuild it (unbound)."""
        arguments = (knob.argument or name for name, knob in self.KNOBS.items())
        return {argument: getattr(self, argument) for argument in arguments}

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

    KNOBS = {"num_folds": Knob(
        1, "folds of the masked patches the teacher encodes apart (`teacher_target='masked'`; "
        "must divide the masked patches).", kind="int", low=1, part="teacher target")}

    def __init__(self, num_folds=1, **common):
        self.num_folds = num_folds
        super().__init__(**common)

    def check_fit(self):
        if self.num_masked is not None and self.num_masked % self.num_folds:
            raise ValueError(
                f"`num_folds` must divide the {self.num_masked} masked patches; got "
                f"num_folds={self.num_folds}."
            )

    def encode(self, teacher, clean_patches, ids_masked, num_views):
        hidden = _at_masked_positions(teacher.embed(clean_patches), ids_masked, num_views)
        fold_length = self.num_masked // self.num_folds
        folds = ops.reshape(hidden, (-1, fold_length, teacher.hidden_dim))
        encoded = teacher.encode_tokens(folds)[:, teacher.num_prefix_tokens:]
        return ops.reshape(encoded, (-1, self.num_masked, teacher.hidden_dim))


@register_teacher_target("layer_average")
class LayerAverageTarget(TeacherTarget):
    """data2vec: the mean of the teacher's last `num_layers` block outputs
    (each instance-normalised) on the clean image, at the masked positions.
    `num_layers=None` takes the last `DEFAULT_LAYERS` (6, data2vec's), or
    every block of an encoder with fewer."""

    DEFAULT_LAYERS = 6
    KNOBS = {"target_layers": Knob(
        None, "how many of the teacher's last block outputs `teacher_target='layer_average'` "
        "averages (None: 6, or every block of a shallower encoder; at most the encoder's depth).",
        kind="optional_int", low=1, part="teacher target", argument="num_layers")}

    def __init__(self, num_layers=None, **common):
        self.num_layers = self.requested_layers = num_layers
        super().__init__(**common)

    def check_fit(self):
        depth, requested = self.encoder_depth, self.requested_layers
        if requested is not None and depth is not None and requested > depth:
            raise ValueError(
                f"`target_layers` must be at most the encoder's {depth} blocks; got "
                f"target_layers={requested}. Allowed: 1 to encoder_depth={depth}, or None."
            )
        self.num_layers = requested or min(self.DEFAULT_LAYERS, depth or self.DEFAULT_LAYERS)

    def get_config(self):
        return {"num_layers": self.requested_layers}

    def encode(self, teacher, clean_patches, ids_masked, num_views):
        blocks = teacher.block_outputs(teacher.embed(clean_patches))[-self.num_layers:]
        average = sum(standardize_tokens(ops.cast(b, "float32")) for b in blocks) / len(blocks)
        return _at_masked_positions(average[:, teacher.num_prefix_tokens:], ids_masked, num_views)
