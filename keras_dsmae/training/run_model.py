"""A run's whole pretraining model (student encoder, decoder, teacher): built
as its `run_config.json` says, and loaded from its newest checkpoint."""

import os

import keras

from keras_dsmae.callbacks.run_checkpoint import RunCheckpoint, checkpoint_name
from keras_dsmae.models import DSMAE
from keras_dsmae.training.run_config import model_rules, read_run_config

CHECKPOINT_DIR = "checkpoints"


def build_model(preset, overrides, policy, seed):
    """The preset's `DSMAE` with `overrides`, its variables in `policy`, its
    initial weights drawn from `seed`.

    Args:
        preset: a preset name (`keras_dsmae.presets`).
        overrides: `{constructor argument: value}` over the preset.
        policy: a Keras dtype policy name (`"float32"`, `"mixed_bfloat16"`, ...).
        seed: an int.

    Returns:
        A built `DSMAE`.
    """
    keras.utils.set_random_seed(seed)
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        return DSMAE.from_preset(preset, seed=seed, **overrides)
    finally:
        keras.config.set_dtype_policy(previous_policy)


def load_run_model(run_folder):
    """The `DSMAE` of a pretraining run folder, at its newest whole checkpoint
    with finite weights (a damaged one is skipped with a warning), in
    float32 (the variables of a mixed-precision run are float32 too, so the
    weights are the run's exactly), without its optimizer.

    Args:
        run_folder: a folder the pretraining job wrote (`run_config.json`
            and `checkpoints/`).

    Returns:
        `(model, checkpoint)`: the `DSMAE` and the checkpoint folder it was
        loaded from.

    Raises:
        ValueError: the folder holds no run record or no checkpoint.
    """
    record = read_run_config(run_folder)
    if record is None or "preset" not in record:
        raise ValueError(f"`run_folder` {run_folder!r} has no run_config.json of a pretraining run; pass "
                         f"the folder the pretraining job wrote (--output_dir).")
    checkpoints = RunCheckpoint(os.path.join(run_folder, CHECKPOINT_DIR), verbose=False, writes=False)
    if not checkpoints.checkpoints():
        raise ValueError(f"`run_folder` {run_folder!r} has no checkpoint in {CHECKPOINT_DIR}/ to load the "
                         f"whole model from (it is written at each epoch's end).")
    overrides = {**model_rules(record), **(record.get("overrides") or {})}
    model = build_model(record["preset"], overrides, "float32", record.get("seed", 0))
    checkpoints.set_model(model)
    epoch, step = checkpoints.restore()
    return model, os.path.join(checkpoints.directory, checkpoint_name(epoch, step))
