"""DSMAE's constructor arguments: the architecture (as its signature
gives it), the method knobs (one table, `models.method_knobs`), their
checks, the refusal of flat arguments beside parts, and the config that
rebuilds the model."""

import inspect

import numpy as np
from keras import ops

from keras_dsmae.layers.masking import RELEASE_0_2_ROUNDING
from keras_dsmae.losses.functions import RELEASE_0_2_VARIANCE
from keras_dsmae.models.method_knobs import RENAMED_KNOBS, method_knobs
from keras_dsmae.utils import validation

# Where keras_dsmae 0.2 differed from facebookresearch/mae; a flat config
# without these knobs is 0.2's (or 0.1's) and loads with them.
RELEASE_0_2_RULES = {"visible_rounding": RELEASE_0_2_ROUNDING, "norm_pix_variance": RELEASE_0_2_VARIANCE}


def with_release_0_2_rules(config):
    """`config` (a `DSMAE` config) with 0.2's rules filled in where it is a
    flat config that records neither (a parts config carries them in its
    parts, which fill in their own)."""
    if any(name in config for name in RELEASE_0_2_RULES) or "encoder" in config:
        return config
    return {**RELEASE_0_2_RULES, **config}


def architecture_names(init):
    """The named parameters of a constructor `init` (not `self`, `**kwargs`):
    DSMAE's architecture arguments, written once, in its signature."""
    return [name for name, parameter in inspect.signature(init).parameters.items()
            if name != "self" and parameter.kind is not parameter.VAR_KEYWORD]


def arguments_given(init, local_names):
    """`{name: value}` of `init`'s architecture arguments, from its
    `locals()` at its first line."""
    return {name: local_names[name] for name in architecture_names(init)}


def refuse_flat_arguments(init, architecture, kwargs):
    """Refuse flat arguments next to parts: `DSMAE(encoder=..., ...)` takes
    its architecture and knobs from the parts (only `seed`, `name` and
    `dtype` besides them).

    Args:
        init: the constructor, whose signature holds the architecture defaults.
        architecture: `arguments_given(init, ...)`.
        kwargs: the remaining keyword arguments.

    Raises:
        ValueError: naming the flat arguments given.
    """
    defaults = inspect.signature(init).parameters
    given = [name for name, value in architecture.items() if value != defaults[name].default]
    given += [name for name in kwargs if name in method_knobs() and name != "seed" or name in RENAMED_KNOBS]
    if given:
        raise ValueError(
            f"A DSMAE built from parts takes its architecture and knobs from them; got the flat "
            f"arguments {sorted(given)} too. Set them on the parts (e.g. RandomMasking(mask_ratio), "
            f"PixelReconstructionTerm(weight)), or build from flat arguments only.")


def current_names(arguments):
    """`arguments` (a dict of DSMAE arguments) with each old knob name
    (`RENAMED_KNOBS`) replaced by its current one.

    Raises:
        ValueError: both names of one knob are given.
    """
    arguments = dict(arguments)
    for old, new in RENAMED_KNOBS.items():
        if old in arguments:
            if new in arguments:
                raise ValueError(
                    f"`{old}` is the old name of `{new}`; give one of them. Got {old}="
                    f"{arguments[old]!r} and {new}={arguments[new]!r}.")
            arguments[new] = arguments.pop(old)
    return arguments


def offset_seed(seed, offset):
    """`seed + offset`, or None without a seed (each random layer gets its own stream)."""
    return None if seed is None else seed + offset


def take_knobs(kwargs):
    """Remove the method knobs from `kwargs` (a constructor's `**kwargs`)
    and return them, `{name: value}`, defaults filled in; an old knob name
    (`RENAMED_KNOBS`) counts as its current one."""
    current = current_names(kwargs)
    kwargs.clear()
    kwargs.update(current)
    return {name: kwargs.pop(name, knob.default) for name, knob in method_knobs().items()}


def check(architecture, knobs):
    """Check DSMAE's arguments before anything is built.

    Args:
        architecture: dict holding the encoder/decoder widths, depths and heads.
        knobs: `{name: value}` of every method knob (`take_knobs`).

    Returns:
        dict of the method knobs, as validated values.
    """
    a = architecture
    validation.check_width_and_heads("encoder_dim", a["encoder_dim"], "encoder_heads", a["encoder_heads"])
    validation.check_width_and_heads("decoder_dim", a["decoder_dim"], "decoder_heads", a["decoder_heads"])
    validation.check_int("encoder_depth", a["encoder_depth"], minimum=1)
    settings = {name: knob.check(name, knobs[name]) for name, knob in method_knobs().items()}
    if settings["pixel_loss_weight"] == 0 and settings["loss_weight"] == 0:
        raise ValueError(
            "At least one of `pixel_loss_weight` and `loss_weight` must be > 0; "
            "got pixel_loss_weight=0 and loss_weight=0."
        )
    return settings


def config_of(model):
    """The constructor arguments that rebuild `model` (a `DSMAE`): its
    architecture as given (the image size as a pair) and its knobs. The
    teacher momentum is read from the teacher's schedule variables, the one
    record of it, so a changed schedule is never reported stale."""
    config = {**model.architecture, **{name: model.settings[name] for name in method_knobs()}}
    if model.ema_teacher is not None:
        for name, variable in (("teacher_momentum", model.ema_teacher.momentum_start),
                               ("teacher_momentum_end", model.ema_teacher.momentum_end)):
            current = ops.convert_to_numpy(variable)
            if np.float32(config[name]) != current:  # changed since construction
                config[name] = float(current)
    return config
