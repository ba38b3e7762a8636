"""User-facing owner of the teacher's EMA momentum schedule."""

import warnings

import keras

from keras_dsmae.utils import validation
from keras_dsmae.utils.callback_order import ADDS_LOGS


class TeacherEMA(keras.callbacks.Callback):
    """Schedule the teacher's EMA momentum over a `fit` run.

    The EMA arithmetic itself (θ_T ← m·θ_T + (1−m)·θ_S) runs inside the
    compiled training step of `DSMAE` (a Python-side update after each batch
    doubled a tiny model's step on TensorFlow, and on JAX forces a state
    sync every step). This callback sets, once per `fit`, the
    cosine schedule that step follows: from `momentum_start` to
    `momentum_end` over `total_steps` training steps, by default
    `epochs × steps_per_epoch` of the run. The position in the schedule is
    the `step` variable of the model's `EMATeacher`, saved with the model and restored by
    checkpoints, so a resumed run continues where it stopped; when the
    resumed run is longer (more epochs), the cosine continues from the
    current momentum to `momentum_end` over the new length, so the momentum
    never decreases. The model's other teacher schedules follow the same
    length: the loss-weight warm-up (`DSMAE(loss_weight_warmup=...)`) and
    the update interval (`teacher_update_every`) need no callback of their own.

    Args:
        momentum_start: m at step 0; default: the model's `teacher_momentum`.
        momentum_end: m at the end; default: the model's `teacher_momentum_end`.
        total_steps: schedule length; default: from `fit`'s epochs and steps.
        log_momentum: add `teacher_momentum` to the epoch logs.
    """

    schedules_teacher = True  # `DSMAE.fit` warns when no callback does
    epoch_end_stage = ADDS_LOGS

    def __init__(self, momentum_start=None, momentum_end=None, total_steps=None, log_momentum=True):
        super().__init__()
        if momentum_start is not None:
            validation.check_float("momentum_start", momentum_start, 0.0, 1.0)
        if momentum_end is not None:
            validation.check_float("momentum_end", momentum_end, 0.0, 1.0)
        if total_steps is not None:
            validation.check_int("total_steps", total_steps, minimum=1)
        self.momentum_start = momentum_start
        self.momentum_end = momentum_end
        self.total_steps = total_steps
        self.log_momentum = log_momentum
        self._active = False
        self._pending = False

    def on_train_begin(self, logs=None):
        model = self.model
        if getattr(model, "ema_teacher", None) is None:
            warnings.warn(
                "TeacherEMA: the model has no teacher (loss_weight=0, plain "
                "MAE), so there is nothing to schedule.",
                stacklevel=2,
            )
            self._active = False
            self._pending = False
            return
        self._total = self.total_steps or self._steps_of_run()
        self._active = True
        self._pending = True

    def on_train_batch_begin(self, batch, logs=None):
        # Set at the first batch, not in `on_train_begin`: a checkpoint restore
        # (`RunCheckpoint`) runs in `on_train_begin` too, and would otherwise
        # overwrite this run's schedule with the saved one, whatever the order.
        if self._pending:
            self._pending = False
            teacher = self.model.ema_teacher
            step = int(keras.ops.convert_to_numpy(teacher.step))
            scheduled = int(keras.ops.convert_to_numpy(teacher.total_steps))
            if step == 0 or scheduled == 0:  # a new run, or never scheduled
                teacher.set_schedule(
                    start=self.momentum_start, end=self.momentum_end,
                    total_steps=self._total, start_step=0,
                )
            elif scheduled != self._total:
                # A resumed run of another length: continue from the current
                # momentum instead of re-stretching the whole cosine (which
                # would move the momentum back down).
                teacher.set_schedule(
                    start=teacher.current_momentum(), end=self.momentum_end,
                    total_steps=self._total, start_step=step,
                )

    def _steps_of_run(self):
        epochs, steps = self.params.get("epochs"), self.params.get("steps")
        if not epochs or not steps:
            raise ValueError(
                "TeacherEMA cannot tell the length of this run (fit's "
                f"steps per epoch is {steps!r}). Pass `steps_per_epoch` to fit "
                "or `total_steps` to TeacherEMA."
            )
        return int(epochs) * int(steps)

    def on_epoch_end(self, epoch, logs=None):
        if self._active and self.log_momentum and logs is not None:
            logs["teacher_momentum"] = self.model.ema_teacher.current_momentum()
