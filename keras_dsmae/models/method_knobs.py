"""The method knobs of `DSMAE`: one table, grouped by the part that owns
each knob. The loss terms (`losses.terms`) and the teacher targets
(`models.teacher_targets`) declare their own knobs on their classes; they
join the table when the class is registered; the corruption's and the
teacher's are here.

Each entry is a `keras_dsmae.utils.knob.Knob`: default, allowed values,
meaning and, for the knobs the tuner searches, its default range. The table
is the one list of these names: `DSMAE` checks and records its knobs from
it, presets and `--model_overrides` may use its names, the tuner takes its
ranges and limits from it, and the docs are generated from it.
"""

import textwrap

from keras_dsmae import losses
from keras_dsmae.layers import block_masking  # noqa: F401  (registers the block strategies)
from keras_dsmae.layers.masking import MASKING_STRATEGIES, VISIBLE_ROUNDINGS, masking_knobs
from keras_dsmae.models.teacher_targets import TEACHER_TARGETS, target_knobs
from keras_dsmae.utils.knob import Knob

_CORRUPTION_KNOBS = {
    # the corrupted view (GaussianPatchNoise + a masking strategy)
    "mask_ratio": Knob(
        0.75, "fraction of patches hidden from the student.", low=0.0, high=1.0, low_open=True,
        high_open=True, tune=(0.5, 0.95), tune_fixable=False, part="corruption"),
    "visible_rounding": Knob(
        "floor", "how N·(1 − mask_ratio) becomes the visible count: `floor` (int(), as "
        "facebookresearch/mae and transformers) or `round` (keras_dsmae 0.2).", kind="choice",
        choices=VISIBLE_ROUNDINGS, part="corruption"),
    "noise_std": Knob(
        0.25, "std of the Gaussian noise on the student's patches (in normalised units).", low=0.0,
        tune=(0.0, 0.5), tune_fixable=False, part="corruption"),
    "masking": Knob(
        "random", "the registered masking strategy (`layers.masking`): `random` (uniform, MAE), `block` "
        "(hidden square blocks, BEiT) or `inverse_block` (visible square blocks, data2vec 2.0); each "
        "keeps exactly the visible count.", kind="choice", choices=lambda: tuple(MASKING_STRATEGIES),
        part="corruption"),
}
_COPIES = {
    "masks_per_image": Knob(
        1, "masked copies of each image per step, each with its own mask and noise; one teacher pass "
        "serves them all (data2vec 2.0's multi-mask training). The student's work and activation "
        "memory grow M-fold, the teacher's do not.", kind="int", low=1, part="corruption"),
}
_TARGET_CHOICE = {
    "teacher_target": Knob(
        "full", "the registered teacher-target strategy (`models.teacher_targets`); the old name "
        "`teacher_view` is still taken.", kind="choice",
        choices=lambda: tuple(TEACHER_TARGETS), part="teacher target"),
}
_TEACHER_KNOBS = {
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
    "seed": Knob(None, "masks, noise and drop path reproduce with it.", kind="seed", part="model"),
}


# Old knob names that are still taken (arguments, presets, `--model_overrides`,
# `.keras` files of 0.2): `{old: new}`.
RENAMED_KNOBS = {"teacher_view": "teacher_target"}


def method_knobs():
    """`{name: Knob}` of every method knob, in the order of `get_config`:
    the corruption's (with the registered masking strategies' knobs), the registered loss terms' (`losses.LOSS_TERMS`), the
    teacher target's choice and the registered targets' knobs, the
    teacher's, the seed."""
    return {**_CORRUPTION_KNOBS, **masking_knobs(), **_COPIES, **losses.term_knobs(), **_TARGET_CHOICE, **target_knobs(), **_TEACHER_KNOBS}


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
