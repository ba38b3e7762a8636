"""The parts a `DSMAE` is composed of: the one builder that makes them from
the flat names, the checks that handed-in parts fit together, and their
config.

The parts, in the order the model tracks them (which fixes the order of
its weights, so checkpoints and `.keras` files of 0.2 keep loading):

- `encoder`: the student `ViTEncoder` (any layer with its interface:
  `patchify`, `embed`, `encode_tokens`, `block_outputs`, `image_size`,
  `num_channels`, `patch_dim`, `num_patches`, `grid_size`, `hidden_dim`,
  `depth`, `num_prefix_tokens`);
- `noise` and `masking`: the corruption, `GaussianPatchNoise` then a
  masking strategy (`PatchMasking`: `RandomMasking`, `BlockMasking`,
  `InverseBlockMasking`, or a registered one), which also says how many
  masked copies of each image the student sees (`masks_per_image`);
- `decoder`: a `MaskedDecoder` with a pixel head, a feature head or both;
- `feature_predictor`: optional second `MaskedDecoder` (feature head only)
  at encoder width;
- `image_head`: optional `Dense(encoder width)` for the image-level term;
- `teacher`: optional `EMATeacher` of the student's config;
- `teacher_target`: a `TeacherTarget`, or its registered name;
- `loss_terms`: the `LossTerm`s, summed in the order given;
- `view_crop`: optional `RandomResizedCrop` that makes the second view of a
  term with `two_views` (else the second view is a second mask).
"""

import keras

from keras_dsmae.layers.masking import MASKING_STRATEGIES, PatchMasking
from keras_dsmae.layers.patch_noise import GaussianPatchNoise
from keras_dsmae.layers.random_resized_crop import RandomResizedCrop
from keras_dsmae.losses import LOSS_TERMS, LossTerm, build_loss_terms, teacher_needed
from keras_dsmae.models.decoder import MaskedDecoder
from keras_dsmae.models.ema_teacher import EMATeacher
from keras_dsmae.models.method_knobs import method_knobs
from keras_dsmae.models.method_settings import offset_seed
from keras_dsmae.models.teacher_targets import (
    build_teacher_target,
    deserialize_target,
    serialize_target,
)
from keras_dsmae.models.vit_encoder import ViTEncoder
from keras_dsmae.utils.knob import chosen_owner_arguments

REQUIRED_PARTS = ("encoder", "noise", "masking", "decoder", "loss_terms")
OPTIONAL_PARTS = ("feature_predictor", "image_head", "teacher", "teacher_target", "view_crop")
PART_NAMES = REQUIRED_PARTS + OPTIONAL_PARTS
_ATTRIBUTE = {"teacher": "ema_teacher"}  # part name → DSMAE attribute, where they differ
ENCODER_INTERFACE = ("patchify", "embed", "encode_tokens", "block_outputs", "image_size",
                     "num_channels", "patch_dim", "num_patches", "grid_size", "hidden_dim", "depth",
                     "num_prefix_tokens")


def build_parts(architecture, settings, policy):
    """The parts of a `DSMAE` from its flat arguments (constructor, presets,
    `--model_overrides`, the tuner and 0.2 configs all come through here).

    Args:
        architecture: `{name: value}` of `DSMAE`'s architecture arguments.
        settings: its checked method knobs (`method_settings.check`).
        policy: the dtype policy of every part.

    Returns:
        `{part name: part}` (see the module docstring), `None` for an
        optional part the settings leave out.
    """
    a, seed = architecture, settings["seed"]
    masking_class, masking_arguments = chosen_owner_arguments(MASKING_STRATEGIES, "masking", settings)
    two_views = [cls.term_name for cls in LOSS_TERMS.values() if cls.two_views and settings[cls.WEIGHT]]
    _check_copies(settings["masks_per_image"], two_views)
    encoder = ViTEncoder(
        image_size=a["image_size"], patch_size=a["patch_size"], num_channels=a["num_channels"],
        hidden_dim=a["encoder_dim"], depth=a["encoder_depth"], num_heads=a["encoder_heads"],
        mlp_ratio=a["mlp_ratio"], drop_path_rate=a["drop_path_rate"], use_cls_token=a["use_cls_token"],
        layer_norm_epsilon=a["layer_norm_epsilon"],
        seed=offset_seed(seed, 100), dtype=policy, name="encoder",
    )
    if masking_class.uses_grid:
        masking_arguments["grid_size"] = encoder.grid_size
    masking = masking_class(settings["mask_ratio"], seed=offset_seed(seed, 1),
                            visible_rounding=settings["visible_rounding"],
                            masks_per_image=settings["masks_per_image"], dtype=policy, name="masking",
                            **masking_arguments)
    parts = {"encoder": encoder, "teacher_target": build_teacher_target(
        settings, _num_masked(encoder, masking), a["encoder_depth"])}
    parts["noise"] = GaussianPatchNoise(settings["noise_std"], seed=seed, dtype=policy, name="patch_noise")
    parts["masking"] = masking
    separate_predictor = settings["loss_weight"] and settings["feature_predictor_depth"]
    decoder_settings = dict(num_prefix_tokens=encoder.num_prefix_tokens, mlp_ratio=a["mlp_ratio"],
                            layer_norm_epsilon=a["layer_norm_epsilon"], dtype=policy)
    parts["decoder"] = MaskedDecoder(
        encoder.grid_size, decoder_dim=a["decoder_dim"], depth=a["decoder_depth"],
        num_heads=a["decoder_heads"], pixel_dim=encoder.patch_dim if settings["pixel_loss_weight"] else 0,
        feature_dim=a["encoder_dim"] if settings["loss_weight"] and not separate_predictor else 0,
        name="decoder", **decoder_settings,
    )
    parts["feature_predictor"] = None if not separate_predictor else MaskedDecoder(
        encoder.grid_size, decoder_dim=a["encoder_dim"], depth=settings["feature_predictor_depth"],
        num_heads=a["encoder_heads"], pixel_dim=0, feature_dim=a["encoder_dim"],
        name="feature_predictor", **decoder_settings,
    )
    parts["image_head"] = None if not settings["image_loss_weight"] else keras.layers.Dense(
        a["encoder_dim"], dtype=policy, name="image_head")
    parts["teacher"] = None if not teacher_needed(settings) else EMATeacher(
        encoder.get_config(), settings["teacher_momentum"], settings["teacher_momentum_end"],
        settings["teacher_update_every"], settings["loss_weight_warmup"], dtype=policy, name="ema_teacher",
    )
    parts["loss_terms"] = build_loss_terms(settings)
    two_crops = settings["contrast_weight"] and settings["contrast_views"] == "crops"
    parts["view_crop"] = None if not two_crops else RandomResizedCrop(
        seed=offset_seed(seed, 2), dtype=policy, name="view_crop")
    return parts


def take_parts(kwargs):
    """Remove the parts from `kwargs` (a constructor's `**kwargs`) and
    return them, `{name: part}`; `{}`, leaving `kwargs` as it is, when no
    part is given: `teacher_target` alone, or `masking` as a registered
    name, is the flat knob of that name (a flat call names its strategies)."""
    def is_part(name):
        return name in kwargs and name != "teacher_target" and not (
            name == "masking" and isinstance(kwargs[name], str))
    if not any(is_part(name) for name in PART_NAMES):
        return {}
    return {name: kwargs.pop(name) for name in PART_NAMES if name in kwargs}


def check_parts(parts):
    """Check that handed-in parts fit together, before anything is built.

    Args:
        parts: `{name: part}`, every name of `REQUIRED_PARTS` present.

    Returns:
        The parts, every optional one filled in (`None`), the teacher target
        resolved to a bound `TeacherTarget` (the full-image one by default).

    Raises:
        ValueError: naming the part and what it needs.
    """
    missing = [name for name in REQUIRED_PARTS if parts.get(name) is None]
    if missing:
        raise ValueError(f"A DSMAE built from parts needs {list(REQUIRED_PARTS)}; missing: {missing}. "
                         f"Optional: {list(OPTIONAL_PARTS)}. Or give flat arguments only (DSMAE(encoder_dim=...)).")
    parts = {name: parts.get(name) for name in PART_NAMES}
    encoder, decoder, terms = parts["encoder"], parts["decoder"], list(parts["loss_terms"])
    lacking = [name for name in ENCODER_INTERFACE if not hasattr(encoder, name)]
    if lacking:
        raise ValueError(f"`encoder` must be a ViTEncoder or have its interface; got {type(encoder).__name__}, "
                         f"which lacks {lacking}.")
    _require_type("noise", parts["noise"], GaussianPatchNoise)
    _require_type("masking", parts["masking"], PatchMasking)
    grid = getattr(parts["masking"], "grid_size", None)
    if grid is not None and tuple(grid) != tuple(encoder.grid_size):
        raise ValueError(f"`masking`.grid_size must be the encoder's {tuple(encoder.grid_size)}; got "
                         f"grid_size={tuple(grid)}.")
    for name in ("decoder", "feature_predictor"):
        if parts[name] is not None:
            _require_type(name, parts[name], MaskedDecoder)
            if tuple(parts[name].grid_size) != tuple(encoder.grid_size):
                raise ValueError(f"`{name}`.grid_size must be the encoder's {tuple(encoder.grid_size)}; "
                                 f"got grid_size={tuple(parts[name].grid_size)}.")
            if parts[name].feature_dim not in (0, encoder.hidden_dim):
                raise ValueError(f"`{name}`.feature_dim must be the encoder's hidden_dim {encoder.hidden_dim} "
                                 f"(the teacher's width), or 0; got feature_dim={parts[name].feature_dim}.")
    head = parts["image_head"]
    if head is not None and getattr(head, "units", encoder.hidden_dim) != encoder.hidden_dim:
        raise ValueError(f"`image_head` must output the encoder's hidden_dim {encoder.hidden_dim}; got "
                         f"units={head.units}.")
    if decoder.pixel_dim and decoder.pixel_dim != encoder.patch_dim:
        raise ValueError(f"`decoder`.pixel_dim must be the encoder's patch_dim {encoder.patch_dim} (p*p*C), or 0; "
                         f"got pixel_dim={decoder.pixel_dim}.")
    if not terms:
        raise ValueError("`loss_terms` must hold at least one LossTerm; got none.")
    for term in terms:
        _require_type("loss_terms", term, LossTerm)
    outputs = {"pixels": bool(decoder.pixel_dim), "image_prediction": parts["image_head"] is not None,
               "features": bool(decoder.feature_dim) or parts["feature_predictor"] is not None}
    for term in terms:
        needed = term.reads_output
        if needed in outputs and not outputs[needed]:
            raise ValueError(f"Loss term {term.name!r} reads the model's {needed!r}, which no part makes: "
                             f"{_maker(needed)}.")
    uses_teacher = any(term.uses_teacher for term in terms)
    if uses_teacher != (parts["teacher"] is not None):
        raise ValueError(
            "`teacher` is needed by a loss term that learns from it ("
            f"{[t.name for t in terms if t.uses_teacher]}), and only then; got teacher="
            f"{type(parts['teacher']).__name__ if parts['teacher'] is not None else None}.")
    if parts["teacher"] is not None:
        _require_type("teacher", parts["teacher"], EMATeacher)
    _check_copies(parts["masking"].masks_per_image, [term.name for term in terms if term.two_views])
    if parts["view_crop"] is not None and not any(term.two_views for term in terms):
        raise ValueError("`view_crop` makes the second view of a two-view term (ContrastTerm); "
                         "no loss term given compares two views.")
    target = deserialize_target(parts["teacher_target"] or "full")
    _check_knob_values(terms, target)
    parts["teacher_target"] = target.bind(_num_masked(encoder, parts["masking"]), encoder.depth)
    parts["loss_terms"] = terms
    return parts


def _check_knob_values(terms, target):
    """Check the registered terms' and the target's values against their
    knobs (the table's allowed values), naming the knob."""
    table = method_knobs()
    for term in terms:
        if term.WEIGHT in table:  # a registered term
            table[term.WEIGHT].check(term.WEIGHT, term.weight)
            for argument, name in term.argument_knobs().items():
                table[name].check(name, getattr(term, argument))
    arguments = target.get_config()
    for name, knob in target.KNOBS.items():
        knob.check(name, arguments[knob.argument or name])


def _check_copies(masks_per_image, two_view_terms):
    """Refuse several masked copies of each image beside a term that
    compares two views of it (their pairs and negatives would mix copies)."""
    if masks_per_image > 1 and two_view_terms:
        raise ValueError(
            f"`masks_per_image`={masks_per_image} cannot go with a term that compares two views of each "
            f"image ({two_view_terms}); allowed: masks_per_image=1 with it, or contrast_weight=0.")


def _num_masked(encoder, masking):
    """Patches hidden from the student per view, `M`."""
    return encoder.num_patches - masking.num_visible(encoder.num_patches)


def _require_type(name, part, cls):
    if not isinstance(part, cls):
        raise ValueError(f"`{name}` must be a {cls.__name__}; got {type(part).__name__}.")


def _maker(output):
    return {"pixels": "a decoder with pixel_dim > 0",
            "features": "a decoder with feature_dim > 0, or a feature_predictor",
            "image_prediction": "an image_head"}[output]


def serialize_parts(model):
    """`{part name: Keras-serialised part}` of a model built from parts (the
    teacher target by its registered name and knobs)."""
    config = {}
    for name in PART_NAMES:
        part = getattr(model, _ATTRIBUTE.get(name, name))
        if name == "teacher_target":
            config[name] = serialize_target(part)
        elif name == "loss_terms":
            config[name] = [keras.saving.serialize_keras_object(term) for term in part]
        else:
            config[name] = None if part is None else keras.saving.serialize_keras_object(part)
    return config


def deserialize_parts(config):
    """The parts in `config` (a `serialize_parts` dict, or live parts), as objects."""
    def load(value):
        return keras.saving.deserialize_keras_object(value) if isinstance(value, dict) else value
    parts = {}
    for name, value in config.items():
        if name == "teacher_target":
            parts[name] = value if value is None else deserialize_target(value)
        elif name == "loss_terms":
            parts[name] = [load(term) for term in value]
        else:
            parts[name] = load(value)
    return parts

