"""What keeps code and files of keras_dsmae 0.1 working with `DSMAE`: the
0.1 teacher shortcuts, kept for users' code only (the package and its
training step use `DSMAE.ema_teacher` directly), and a clear error for a
0.1 file."""

from keras_dsmae.models.file_upgrade import legacy_message


class Version01Compatibility:
    """Mixin for `DSMAE`: the teacher shortcuts of 0.1 (new code can use
    `model.ema_teacher` directly), and a clear error for a 0.1 file, whose
    teacher weights sit where 0.2 does not look for them."""

    @property
    def ema_step(self):
        """The teacher's EMA step variable (`ema_teacher.step`), or None."""
        return None if self.ema_teacher is None else self.ema_teacher.step

    @property
    def momentum_total_steps(self):
        """The schedule's length variable (`ema_teacher.total_steps`), or None."""
        return None if self.ema_teacher is None else self.ema_teacher.total_steps

    def update_teacher(self):
        """One EMA step of the teacher towards the student (`EMATeacher.update`)."""
        self._require_teacher().update(self.encoder)

    def set_teacher_schedule(self, start=None, end=None, total_steps=None, start_step=None):
        """See `EMATeacher.set_schedule`."""
        self._require_teacher().set_schedule(start, end, total_steps, start_step)

    def current_teacher_momentum(self):
        """The momentum the next EMA step uses, as a Python float."""
        return self._require_teacher().current_momentum()

    def _require_teacher(self):
        if self.ema_teacher is None:
            raise ValueError("This model has no teacher (loss_weight=0), so it has no teacher schedule.")
        return self.ema_teacher

    def load_own_variables(self, store):
        if len(store.keys()):  # DSMAE owns no variables since 0.2; a 0.1 file has some
            raise ValueError(legacy_message())
        super().load_own_variables(store)
