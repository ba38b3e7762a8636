"""Weights written by keras_dsmae 0.1: recognise them and convert them.

Version 0.1 kept the teacher encoder and its schedule variables on `DSMAE`
itself; from 0.2 they belong to the model's `EMATeacher`. Only where they
sit in the file changed, so conversion moves them without touching a value:

- `layers/vi_t_encoder_1/...` (the teacher encoder) → `ema_teacher/encoder/...`
- the scalars among `DSMAE`'s own `vars/` (step, momentum start, end, total
  steps, start step) → `ema_teacher/vars/0..4`; the rest of `vars/` (copies
  of encoder weights) is dropped.

Everything else (student, decoder, optimizer) is copied as it is.

    python -m keras_dsmae.cli.upgrade runs/cifar100      # a run folder, or
    python -m keras_dsmae.cli.upgrade model.keras        # a .keras or .weights.h5 file
"""

import os
import shutil
import tempfile
import zipfile

import h5py
import numpy as np

from keras_dsmae.utils.atomic_write import atomic_path

LEGACY_TEACHER = "layers/vi_t_encoder_1"
SCHEDULE_VARIABLES = 5  # 0.1 files before `momentum_start_step` hold 4
WEIGHTS_IN_ARCHIVE = "model.weights.h5"
UPGRADE_COMMAND = "python -m keras_dsmae.cli.upgrade"


def is_legacy_weights(store):
    """True for the weights of a 0.1 `DSMAE` (an open `h5py.File`/group)."""
    own = store.get("vars")
    return "encoder" in store and "decoder" in store and own is not None and len(own) > 0


def legacy_message(path=None):
    """What a user is told when they load a 0.1 file."""
    return (
        f"{path or 'This file'} was written by keras_dsmae 0.1, whose teacher weights "
        f"are stored in another place. Convert it once with: {UPGRADE_COMMAND} "
        f"{path or 'PATH'}"
    )


def upgrade_weights_file(source, target):
    """Write the 0.2 form of the 0.1 weights file `source` to `target`."""
    with h5py.File(source, "r") as old, h5py.File(target, "w") as new:
        for key, value in old.attrs.items():
            new.attrs[key] = value
        for key in old:
            if key not in ("vars", "layers"):
                old.copy(old[key], new, key)
        layers = new.create_group("layers")
        for key in old.get("layers", {}):
            if f"layers/{key}" != LEGACY_TEACHER:
                old.copy(old["layers"][key], layers, key)
        new.create_group("vars")
        if LEGACY_TEACHER in old:
            _move_teacher(old, new)


def _move_teacher(old, new):
    teacher = new.create_group("ema_teacher")
    old.copy(old[LEGACY_TEACHER], teacher, "encoder")
    own = old["vars"]
    scalars = [own[key][()] for key in sorted(own, key=int) if own[key].shape == ()]
    if len(scalars) == SCHEDULE_VARIABLES - 1:
        scalars.append(np.float32(0.0))  # momentum_start_step did not exist yet
    if len(scalars) != SCHEDULE_VARIABLES:
        raise ValueError(
            f"Expected {SCHEDULE_VARIABLES} schedule scalars in a keras_dsmae 0.1 file; "
            f"found {len(scalars)}."
        )
    schedule = teacher.create_group("vars")
    for index, value in enumerate(scalars):
        schedule.create_dataset(str(index), data=value)


def upgrade_file(path):
    """Convert a 0.1 `.keras` or `.weights.h5` file in place, keeping the
    original as `<path>.v0_1`. Returns True if it was converted, False if
    it was already current."""
    archive = path.endswith(".keras")
    with tempfile.TemporaryDirectory() as scratch:
        weights = os.path.join(scratch, "old.weights.h5")
        if archive:
            with zipfile.ZipFile(path) as old:
                entries = {name: old.read(name) for name in old.namelist()}
            with open(weights, "wb") as file:
                file.write(entries[WEIGHTS_IN_ARCHIVE])
        else:
            shutil.copyfile(path, weights)
        with h5py.File(weights, "r") as store:
            if not is_legacy_weights(store):
                return False
        converted = os.path.join(scratch, "new.weights.h5")
        upgrade_weights_file(weights, converted)
        shutil.copyfile(path, path + ".v0_1")
        with atomic_path(path) as partial:
            if archive:
                with open(converted, "rb") as file:
                    entries[WEIGHTS_IN_ARCHIVE] = file.read()
                with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as new:
                    for name, data in entries.items():
                        new.writestr(name, data)
            else:
                shutil.copyfile(converted, partial)
    return True
