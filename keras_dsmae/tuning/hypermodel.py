"""`keras_tuner.HyperModel` for DSMAE, scored on a downstream metric."""

import keras
import keras_tuner

import keras_dsmae
from keras_dsmae.models import method_knobs
from keras_dsmae.utils import validation

OBJECTIVE = keras_tuner.Objective("val_knn_accuracy", direction="max")
# The knobs searched by default, with their ranges: the knob table's `tune`
# entries (`keras_dsmae.models.method_knobs`). `ranges` may also name any
# other numeric knob of the table.
DEFAULT_RANGES = method_knobs.tuned_ranges()


def hyperparameter(hp, name, low, high):
    """The tuned value of `name` in [low, high]: `hp.Fixed` when
    `low == high`, `hp.Int` for the integer knobs, `hp.Float` otherwise
    (on a log scale where the knob says so)."""
    if low == high:
        return hp.Fixed(name, low)
    knob = method_knobs.method_knobs()[name]
    sampling = "log" if knob.tune_log else "linear"
    if knob.kind in ("int", "optional_int"):
        return hp.Int(name, int(low), int(high), sampling=sampling)
    return hp.Float(name, low, high, sampling=sampling)


class DSMAEHyperModel(keras_tuner.HyperModel):
    """Builds `DSMAE.from_preset(preset)` with tuned `noise_std`,
    `mask_ratio`, `loss_weight`, `loss_weight_warmup`, `image_loss_weight`,
    `teacher_update_every` and `feature_predictor_depth` (`DEFAULT_RANGES`);
    everything else is fixed by the preset and `model_overrides`.

    The score is `val_knn_accuracy`, logged by a `KNNMonitor` on labelled
    held-out data after every epoch (direction: max). The pretraining loss is
    deliberately not the objective: it is not comparable across mask ratios
    and noise levels.

    Args:
        preset: DSMAE preset name.
        knn_train, knn_val: labelled reference and query data for the monitor
            (`(images, labels)` arrays or labelled `tf.data.Dataset`s).
        ranges: `{name: (low, high)}` overriding `DEFAULT_RANGES` for any of
            its names; `(value, value)` fixes a knob (e.g.
            `{"feature_predictor_depth": (0, 0)}`).
        learning_rate: AdamW rate.
        weight_decay: AdamW weight decay.
        knn_k: neighbours of the kNN monitor.
        model_overrides: fixed `DSMAE` constructor arguments (e.g. a smaller
            model for a quick search).
    """

    def __init__(self, preset, knn_train, knn_val, *, ranges=None, learning_rate=1.5e-4,
                 weight_decay=0.05, knn_k=20, model_overrides=None, **kwargs):
        super().__init__(**kwargs)
        keras_dsmae.presets.preset_config(preset)  # a clear error for an unknown name
        self.preset = preset
        self.knn_train = knn_train
        self.knn_val = knn_val
        self.ranges = validate_ranges(ranges)
        self.learning_rate = validation.check_float("learning_rate", learning_rate, 0.0, low_open=True)
        self.weight_decay = validation.check_float("weight_decay", weight_decay, 0.0)
        self.knn_k = validation.check_int("knn_k", knn_k, minimum=1)
        self.model_overrides = dict(model_overrides or {})
        tuned = set(self.ranges) & set(self.model_overrides)
        if tuned:
            raise ValueError(
                f"`model_overrides` must not fix the tuned hyperparameters; got {sorted(tuned)}. "
                f"Narrow them with `ranges` instead."
            )
        # One build at the ranges' midpoints: a setting that cannot make a
        # model fails here, before any trial, with the model's own error.
        middle = {name: type(low)((low + high) / 2) for name, (low, high) in self.ranges.items()}
        keras_dsmae.DSMAE.from_preset(preset, **self.model_overrides, **middle)

    def build(self, hp):
        tuned = {name: hyperparameter(hp, name, low, high) for name, (low, high) in self.ranges.items()}
        model = keras_dsmae.DSMAE.from_preset(self.preset, **self.model_overrides, **tuned)
        model.compile(optimizer=keras.optimizers.AdamW(
            self.learning_rate, weight_decay=self.weight_decay, beta_2=0.95))
        return model

    def fit(self, hp, model, *args, callbacks=None, **kwargs):
        callbacks = list(callbacks or [])
        if model.teacher is not None:
            callbacks.append(keras_dsmae.callbacks.TeacherEMA())
        callbacks.append(keras_dsmae.callbacks.KNNMonitor(self.knn_train, self.knn_val, k=self.knn_k))
        return model.fit(*args, callbacks=callbacks, **kwargs)


def validate_ranges(ranges):
    """Merge `ranges` into `DEFAULT_RANGES`, checking names and bounds
    against the knob table (`Knob.check_range`)."""
    knobs = method_knobs.method_knobs()
    numeric = {name for name, knob in knobs.items() if knob.kind in ("float", "int", "optional_int")}
    merged = dict(DEFAULT_RANGES)
    for name, bounds in (ranges or {}).items():
        if name not in numeric:
            raise ValueError(
                f"`ranges` keys must be numeric knobs, among {sorted(numeric)}; got {name!r}."
            )
        merged[name] = knobs[name].check_range(name, bounds)
    return merged
