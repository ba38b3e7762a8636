"""`keras_tuner.HyperModel` for DSMAE, scored on a downstream metric."""

from typing import NamedTuple, Optional

import keras
import keras_tuner

import keras_dsmae
from keras_dsmae.utils import validation

OBJECTIVE = keras_tuner.Objective("val_knn_accuracy", direction="max")
DEFAULT_RANGES = {
    "noise_std": (0.0, 0.5),
    "mask_ratio": (0.5, 0.95),
    "loss_weight": (0.0, 2.0),
    "loss_weight_warmup": (0.0, 0.5),
    "image_loss_weight": (0.0, 1.0),
    "teacher_update_every": (1, 100),
    "feature_predictor_depth": (0, 2),
}


class Limit(NamedTuple):
    """What the `(low, high)` range of one knob may span.

    floor: the smallest allowed `low`.
    ceiling: `high` must stay below it (None: no ceiling).
    floor_allowed: `low == floor` is allowed.
    integer: a whole-number knob, tuned with `hp.Int`.
    fixable: `low == high` (a fixed value) is allowed; the original three
        knobs must span a range, as they always have.
    log: sample on a log scale.
    """

    floor: float
    ceiling: Optional[float] = None
    floor_allowed: bool = True
    integer: bool = False
    fixable: bool = True
    log: bool = False


LIMITS = {
    "noise_std": Limit(0.0, fixable=False),
    "mask_ratio": Limit(0.0, 1.0, floor_allowed=False, fixable=False),
    "loss_weight": Limit(0.0, fixable=False),
    "loss_weight_warmup": Limit(0.0, 1.0),
    "image_loss_weight": Limit(0.0),
    "teacher_update_every": Limit(1, integer=True, log=True),
    "feature_predictor_depth": Limit(0, integer=True),
}


def hyperparameter(hp, name, low, high):
    """The tuned value of `name` in [low, high]: `hp.Fixed` when
    `low == high`, `hp.Int` for the integer knobs, `hp.Float` otherwise
    (on a log scale where `LIMITS` says so)."""
    if low == high:
        return hp.Fixed(name, low)
    limit = LIMITS[name]
    sampling = "log" if limit.log else "linear"
    if limit.integer:
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
        tuned = set(DEFAULT_RANGES) & set(self.model_overrides)
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
    """Merge `ranges` into `DEFAULT_RANGES`, checking names and bounds."""
    merged = dict(DEFAULT_RANGES)
    for name, bounds in (ranges or {}).items():
        if name not in DEFAULT_RANGES:
            raise ValueError(
                f"`ranges` keys must be among {sorted(DEFAULT_RANGES)}; got {name!r}."
            )
        if (not isinstance(bounds, (tuple, list)) or len(bounds) != 2
                or not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds)):
            raise ValueError(f"`ranges[{name!r}]` must be a (low, high) pair of numbers; got {bounds!r}.")
        low, high = bounds
        limit = LIMITS[name]
        in_order = low <= high if limit.fixable else low < high
        above_floor = low >= limit.floor if limit.floor_allowed else low > limit.floor
        below_ceiling = limit.ceiling is None or high < limit.ceiling
        whole = not limit.integer or (float(low).is_integer() and float(high).is_integer())
        if not (in_order and above_floor and below_ceiling and whole):
            allowed = (f"{limit.floor} {'<=' if limit.floor_allowed else '<'} low "
                       f"{'<=' if limit.fixable else '<'} high"
                       + (f" < {limit.ceiling}" if limit.ceiling is not None else "")
                       + (", whole numbers" if limit.integer else ""))
            raise ValueError(f"`ranges[{name!r}]` must satisfy {allowed}; got {bounds}.")
        merged[name] = (int(low), int(high)) if limit.integer else (float(low), float(high))
    return merged
