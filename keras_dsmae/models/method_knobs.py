"""The method knobs of `DSMAE`: one table, grouped by the part that owns
each knob.

Each entry is a `keras_dsmae.utils.knob.Knob`: default, allowed values,
meaning and, for the knobs the tuner searches, its default range. The table
is the one list of these names: `DSMAE` checks and records its knobs from
it, presets and `--model_overrides` may use its names, the tuner takes its
ranges and limits from it, and the docs are generated from it. A teacher
target declares its own knobs on its class (`TeacherTarget.KNOBS`); they
join the table when the target is registered.
"""

import textwrap

from keras_dsmae import losses
from keras_dsmae.models.teacher_targets import TEACHER_TARGETS, target_knobs
from keras_dsmae.utils.knob import Knob

CONTRAST_VIEWS = ("masks", "crops")

_BEFORE_TARGET_KNOBS = {
    # the corrupted view (GaussianPatchNoise + RandomMasking)
    "mask_ratio": Knob(
        0.75, "fraction of patches hidden from the student.", low=0.0, high=1.0, low_open=True,
        high_open=True, tune=(0.5, 0.95), tune_fixable=False, part="corruption"),
    "noise_std": Knob(
        0.25, "std of the Gaussian noise on the student's patches (in normalised units).", low=0.0,
        tune=(0.0, 0.5), tune_fixable=False, part="corruption"),
    # the pixel term
    "pixel_loss_weight": Knob(
        1.0, "weight of the pixel term (0 removes it and the pixel head).", low=0.0, part="pixel term"),
    "norm_pix_loss": Knob(True, "per-patch normalised pixel targets (MAE).", kind="bool", part="pixel term"),
    "denoise_visible": Knob(
        False, "also reconstruct the visible (noisy) patches.", kind="bool", part="pixel term"),
    # the feature term
    "loss_weight": Knob(
        1.0, "weight of the feature-distillation term: the student's feature predictions against "
        "the teacher's targets at the masked positions (the seed's knob; 0 removes the term, and "
        "the teacher with it unless an image term needs one).", low=0.0, tune=(0.0, 2.0),
        tune_fixable=False, part="feature term"),
    "feature_loss": Knob(
        "cosine", "the feature term's distance.", kind="choice", choices=losses.FEATURE_LOSSES,
        part="feature term"),
    "feature_predictor_depth": Knob(
        0, "0: the pixel decoder's last layer also predicts the features; >= 1: a separate "
        "predictor of this many blocks at encoder width (BootMAE, data2vec 2.0).", kind="int", low=0,
        tune=(0, 2), part="feature term"),
    # the teacher target
    "teacher_target": Knob(
        "full", "the registered teacher-target strategy (`models.teacher_targets`); the old name "
        "`teacher_view` is still taken.", kind="choice",
        choices=lambda: tuple(TEACHER_TARGETS), part="teacher target"),
}
_AFTER_TARGET_KNOBS = {
    # the EMA teacher
    "teacher_momentum": Knob(0.996, "EMA momentum at the start of the schedule.", low=0.0, high=1.0,
                             part="teacher"),
    "teacher_momentum_end": Knob(1.0, "EMA momentum at the end of the schedule.", low=0.0, high=1.0,
                                 part="teacher"),
    "teacher_update_every": Knob(
        1, "the teacher moves every this many steps (a lagging teacher; each move uses that "
        "step's momentum).", kind="int", low=1, tune=(1, 100), tune_log=True, part="teacher"),
    "loss_weight_warmup": Knob(
        0.0, "fraction of the run over which the teacher terms' weights ramp linearly from 0 "
        "(0: no warm-up).", low=0.0, high=1.0, high_open=True, tune=(0.0, 0.5), part="teacher"),
    # the image-level teacher term
    "image_loss_weight": Knob(
        0.0, "weight of the image-level teacher term (0: off).", low=0.0, tune=(0.0, 1.0),
        part="image term"),
    "image_loss": Knob(
        "regression", "`regression` (pooled student → mean teacher target, MSE) or `contrast` "
        "(InfoNCE against the other images).", kind="choice", choices=losses.ImageLevelTerm.KINDS,
        part="image term"),
    # the two-view contrast term (MV-MAE)
    "contrast_weight": Knob(
        0.0, "weight of the InfoNCE term between two views of each image (0: one view).", low=0.0,
        part="contrast term"),
    "contrast_temperature": Knob(
        0.2, "InfoNCE temperature (contrast and image-contrast terms).", low=0.0, low_open=True,
        part="contrast term"),
    "contrast_views": Knob(
        "masks", "the two views: `masks` (two masks and noise draws of the image) or `crops` (the "
        "image and a random resized crop of it, area 35–100 %, flipped half the time).",
        kind="choice", choices=CONTRAST_VIEWS, part="contrast term"),
    "seed": Knob(None, "masks, noise and drop path reproduce with it.", kind="seed", part="model"),
}


# Old knob names that are still taken (arguments, presets, `--model_overrides`,
# `.keras` files of 0.2): `{old: new}`.
RENAMED_KNOBS = {"teacher_view": "teacher_target"}


def method_knobs():
    """`{name: Knob}` of every method knob, in the order of `get_config`;
    the registered teacher targets' knobs sit after `teacher_target`."""
    return {**_BEFORE_TARGET_KNOBS, **target_knobs(), **_AFTER_TARGET_KNOBS}


def tuned_ranges():
    """`{name: (low, high)}`: the knobs the tuner searches by default."""
    return {name: knob.tune for name, knob in method_knobs().items() if knob.tune is not None}


def knob_docs():
    """Docstring lines for the knobs, grouped by part."""
    lines, part = [], None
    for name, knob in method_knobs().items():
        if knob.part != part:
            part = knob.part
            lines.append(f"    {part[0].upper()}{part[1:]}:")
        allowed = knob.describe()
        text = f"{name}: {knob.help} {allowed[0].upper()}{allowed[1:]}; default {knob.default!r}."
        lines.append(textwrap.fill(text, width=79, initial_indent=" " * 8, subsequent_indent=" " * 12))
    return "\n".join(lines)
