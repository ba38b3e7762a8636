"""Checks of what a user hands to `DSMAE.fit`, before any work is done.

DSMAE trains on normalised float images. Raw pixels (uint8, or floats that
are whole numbers in 0–255) and empty data are refused with a `ValueError`
that points to `keras_dsmae.data.from_arrays`; labels are dropped, since
the model ignores them (so labels of any type, strings included, work).
A model with a teacher but no momentum schedule gets a warning.
"""

import types
import warnings

import numpy as np

FROM_ARRAYS_HINT = (
    "Pass normalised float images: keras_dsmae.data.from_arrays(images) turns "
    "uint8 or [0, 1] images into a normalised, augmented tf.data pipeline for fit."
)
RAW_SAMPLE = 4096  # pixels inspected for the 0–255 check


def check_image_dtype(dtype_name, where="images"):
    """`ValueError` unless `dtype_name` (e.g. "float32") is a float type."""
    if "float" not in str(dtype_name):
        raise ValueError(
            f"`{where}` must hold normalised float images; got dtype {dtype_name}. "
            f"{FROM_ARRAYS_HINT}"
        )


def _check_array(images):
    shape = getattr(images, "shape", None)
    if shape is not None and len(shape) and shape[0] == 0:
        raise ValueError(f"`x` is empty: got images of shape {tuple(shape)}. {FROM_ARRAYS_HINT}")
    check_image_dtype(np.asarray(images).dtype, "x")
    sample = np.asarray(images).reshape(-1)[:RAW_SAMPLE]
    if sample.size and sample.min() >= 0 and sample.max() > 2 and np.all(sample == np.round(sample)):
        raise ValueError(
            f"`x` looks like raw 0–255 pixels (whole numbers from {sample.min():g} to "
            f"{sample.max():g}), not normalised images. {FROM_ARRAYS_HINT}"
        )


def _check_dataset(dataset, raw_inputs=False):
    spec = dataset.element_spec
    image_spec = spec[0] if isinstance(spec, tuple) else spec
    if not raw_inputs:
        check_image_dtype(getattr(image_spec.dtype, "name", image_spec.dtype), "x")
    if int(dataset.cardinality()) == 0:
        raise ValueError(f"The dataset passed to fit is empty (no batches). {FROM_ARRAYS_HINT}")
    if isinstance(spec, tuple):  # (images, labels, ...): labels are not used
        dataset = dataset.map(lambda images, *rest: images)
    return dataset


def with_epoch_length(x, fit_kwargs):
    """A streaming dataset that knows its epoch only approximately (files
    that do not decode are left out on the way, e.g. `from_image_folder`)
    carries `batches_per_epoch`; `fit` gets it as `steps_per_epoch` and the
    dataset repeated, so that a shorter pass never ends training early.

    Returns:
        `(x, fit_kwargs)`, changed only in that case.
    """
    hint = getattr(x, "batches_per_epoch", None)
    if not hint or fit_kwargs.get("steps_per_epoch") or int(x.cardinality()) >= 0:
        return x, fit_kwargs
    return x.repeat(), {**fit_kwargs, "steps_per_epoch": hint}


def prepare(x, shuffle, raw_inputs=False):
    """Check what `fit` is given and drop labels.

    Args:
        x: `fit`'s `x`: an array, a `tf.data.Dataset` (of images, or of
            `(images, labels, ...)` tuples), or anything else Keras takes.
        shuffle: `fit`'s `shuffle`; None means Keras' default (True), except
            for a `tf.data.Dataset` or a Python generator, which order their
            data themselves (Keras would warn that shuffle=True is ignored).
        raw_inputs: the model finishes uint8 batches (or indices) itself
            (`DSMAE.use_device_input`), so a dataset of them is accepted.

    Returns:
        `(x, shuffle)` to pass on to `keras.Model.fit`.
    """
    if hasattr(x, "element_spec"):
        return _check_dataset(x, raw_inputs), bool(shuffle)
    if isinstance(x, types.GeneratorType):
        return x, bool(shuffle)
    if hasattr(x, "dtype") and hasattr(x, "shape"):
        _check_array(x)
    return x, True if shuffle is None else shuffle


def with_callback(callbacks, callback):
    """`callbacks` (a list, None or a `keras.callbacks.CallbackList`) with
    `callback` added last."""
    if callbacks is None or isinstance(callbacks, (list, tuple)):
        return [*(callbacks or ()), callback]
    callbacks.append(callback)
    return callbacks


def warn_without_teacher_schedule(model, callbacks):
    """Warn when a model with a teacher is fitted without a callback that
    schedules its momentum (one with `schedules_teacher = True`, such as
    `keras_dsmae.callbacks.TeacherEMA`) and no schedule was ever set."""
    callbacks = getattr(callbacks, "callbacks", callbacks) or ()  # a CallbackList, a list or None
    if model.ema_teacher is None or any(getattr(c, "schedules_teacher", False) for c in callbacks):
        return
    if float(model.ema_teacher.total_steps.value) == 0:
        warmup = model.ema_teacher.loss_weight_warmup
        skipped = f" and no loss-weight warm-up (loss_weight_warmup={warmup:g})" if warmup else ""
        warnings.warn(
            "DSMAE.fit without keras_dsmae.callbacks.TeacherEMA: the teacher follows the "
            f"student with a constant momentum {float(model.ema_teacher.momentum_start.value):.4g} "
            f"instead of the cosine schedule{skipped}. Pass callbacks=[keras_dsmae.callbacks."
            "TeacherEMA()] to schedule it over the run.",
            stacklevel=3,
        )
