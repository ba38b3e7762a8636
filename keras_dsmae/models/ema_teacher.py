"""The EMA teacher: a slowly moving copy of the student encoder."""

import weakref

import keras
from keras import ops

from keras_dsmae.models.vit_encoder import ViTEncoder
from keras_dsmae.optimizers.schedules import cosine_momentum
from keras_dsmae.utils import validation
from keras_dsmae.utils.backend_kernels import moving_average


@keras.saving.register_keras_serializable(package="keras_dsmae")
class EMATeacher(keras.layers.Layer):
    """A teacher encoder that follows a student by exponential moving average.

    Owns everything about the teacher: the teacher `ViTEncoder` (the
    student's architecture without drop path, never trained by gradients),
    the pairing of each teacher weight with the student weight at the same
    place, the update θ_T ← m·θ_T + (1−m)·θ_S, and the cosine momentum
    schedule. The schedule lives in five variables (`step`,
    `momentum_start`, `momentum_end`, `total_steps`, `start_step`), so
    `.keras` files and checkpoints restore it with the weights, and they are
    the only record of the momentum.

    The student is passed to `copy_from` and `update` rather than stored, so
    that the student's weights are saved once, by their owner.

    Args:
        student_config: `ViTEncoder.get_config()` of the student.
        momentum_start: momentum `m` at the start of the schedule, in [0, 1].
        momentum_end: momentum at its end, in [0, 1].
        update_every: the teacher moves on every `update_every`-th step only
            (SdAE-style lagging teacher; 1 = every step). The momentum
            schedule still counts every step, so with `update_every=k` each
            update uses the momentum of the step it happens at.

    The teacher encoder itself is `self.encoder`; the teacher-target
    strategies (`keras_dsmae.models.teacher_targets`) run it.
    """

    def __init__(self, student_config, momentum_start=0.996, momentum_end=1.0, update_every=1,
                 loss_weight_warmup=0.0, **kwargs):
        super().__init__(**kwargs)
        self.update_every = validation.check_int("teacher_update_every", update_every, minimum=1)
        validation.check_float("teacher_momentum", momentum_start, 0.0, 1.0)
        validation.check_float("teacher_momentum_end", momentum_end, 0.0, 1.0)
        self.loss_weight_warmup = validation.check_float(
            "loss_weight_warmup", loss_weight_warmup, 0.0, 1.0, high_open=True)
        self.student_config = dict(student_config)
        config = {**self.student_config, "name": "teacher", "drop_path_rate": 0.0}
        self.encoder = ViTEncoder.from_config({**config, "dtype": self.dtype_policy})
        self.step = self._scalar("ema_step", 0, dtype="int32")
        self.momentum_start = self._scalar("momentum_start", momentum_start)
        self.momentum_end = self._scalar("momentum_end", momentum_end)
        self.total_steps = self._scalar("momentum_total_steps", 0.0)
        self.start_step = self._scalar("momentum_start_step", 0.0)

    def _scalar(self, name, value, dtype="float32"):
        return self.add_weight(
            name=name, shape=(), dtype=dtype, trainable=False, autocast=False,
            initializer=keras.initializers.Constant(value),
        )

    def build(self, input_shape=None):
        self.encoder.build(input_shape)
        self.encoder.trainable = False
        self.built = True

    def weight_pairs(self, student):
        """`[(teacher weight, student weight), ...]`, matched by their path
        inside their encoder; a `ValueError` if the two differ. Matched once
        per student (0.7 ms for ViT-Tiny, which every eager torch step would
        otherwise pay)."""
        cached = self.__dict__.get("_pairs_of_student")
        if cached is None or cached[0]() is not student:
            # Set past Keras' attribute tracking (a tracked list of these
            # variables would make the layer own them twice), and with a weak
            # reference: saving walks attributes, and must not find the
            # student here before it reaches the model's `encoder`.
            pairs = self._match_weights(student)
            object.__setattr__(self, "_pairs_of_student", (weakref.ref(student), pairs))
        return self._pairs_of_student[1]

    def _match_weights(self, student):
        def relative(weight, owner):
            parts = weight.path.split("/")
            return "/".join(parts[parts.index(owner.name) + 1:])

        by_path = {relative(w, student): w for w in student.weights}
        pairs = [(w, by_path.get(relative(w, self.encoder))) for w in self.encoder.weights]
        if len(pairs) != len(by_path) or any(s is None for _, s in pairs):
            raise ValueError(
                f"The teacher and the student encoder {student.name!r} differ in weights; "
                "the teacher must be built from the student's config."
            )
        return pairs

    def copy_from(self, student):
        """Set every teacher weight to the student's."""
        for teacher_weight, student_weight in self.weight_pairs(student):
            teacher_weight.assign(ops.copy(student_weight.value))

    def momentum(self):
        """The momentum the next `update` uses (a backend scalar)."""
        return cosine_momentum(
            self.step.value, self.total_steps.value, self.momentum_start.value,
            self.momentum_end.value, self.start_step.value,
        )

    def current_momentum(self):
        """`momentum()` as a Python float."""
        return float(ops.convert_to_numpy(self.momentum()))

    def progress(self):
        """`step / total_steps` of the schedule, clipped to [0, 1]; 1 when no
        schedule was set (a backend float32 scalar). The loss-weight warm-up
        of `DSMAE` follows it."""
        total = self.total_steps.value
        fraction = ops.cast(self.step.value, "float32") / ops.maximum(total, 1.0)
        return ops.where(total > 0.0, ops.clip(fraction, 0.0, 1.0), 1.0)

    def loss_scale(self):
        """Multiplier of the teacher terms' weights: the linear warm-up from
        0 to 1 over the first `loss_weight_warmup` of the schedule (a
        float32 scalar), or 1.0 without warm-up."""
        if not self.loss_weight_warmup:
            return 1.0
        return ops.minimum(self.progress() / self.loss_weight_warmup, 1.0)

    def update(self, student):
        """One EMA step θ_T ← m·θ_T + (1−m)·θ_S in float32, then `step += 1`
        (on PyTorch one fused `_foreach_lerp_` over all weights, see
        `keras_dsmae.utils.backend_kernels`). On a step that is not a
        multiple of `update_every` the teacher stays as it is (m = 1).

        At `step == 0` it is a plain copy (m = 0), so the teacher starts as
        the student even if the student's weights were changed after
        construction. `DSMAE` calls it inside its compiled training step.
        """
        step = self.step.value
        momentum = self.momentum()
        if self.update_every > 1:
            momentum = ops.where(step % self.update_every == 0, momentum, 1.0)
        momentum = ops.where(step == 0, 0.0, momentum)
        teacher_weights, student_weights = zip(*self.weight_pairs(student))
        moving_average(list(teacher_weights), list(student_weights), momentum)
        self.step.assign(step + 1)

    def set_schedule(self, start=None, end=None, total_steps=None, start_step=None):
        """Set the cosine momentum schedule (what `callbacks.TeacherEMA` calls).

        Args:
            start: momentum at `start_step`, in [0, 1].
            end: momentum from `total_steps` on, in [0, 1].
            total_steps: step at which the schedule ends, >= 0 (0 keeps the
                momentum at `start`).
            start_step: step at which the cosine starts (0 for a new run;
                the current `step` when a resumed run is made longer).
        """
        if start is not None:
            self.momentum_start.assign(validation.check_float("momentum_start", start, 0.0, 1.0))
        if end is not None:
            self.momentum_end.assign(validation.check_float("momentum_end", end, 0.0, 1.0))
        if total_steps is not None:
            total_steps = validation.check_int("total_steps", total_steps, minimum=0)
            self.total_steps.assign(float(total_steps))
        if start_step is not None:
            start_step = validation.check_int("start_step", start_step, minimum=0)
            self.start_step.assign(float(start_step))

    def get_config(self):
        return {
            **super().get_config(),
            "student_config": self.student_config,
            "momentum_start": float(ops.convert_to_numpy(self.momentum_start)),
            "momentum_end": float(ops.convert_to_numpy(self.momentum_end)),
            "update_every": self.update_every,
            "loss_weight_warmup": self.loss_weight_warmup,
        }
