"""DSD-MAE: masked autoencoder on noisy patches with an EMA teacher.

Plain MAE, SdAE-style and MV-MAE-style training are configurations of the
same class (see `DSMAE`'s docstring), not separate code paths.
"""

import inspect
import warnings

import keras
from keras import ops

from keras_dsmae import losses
from keras_dsmae.layers.masking import RandomMasking, gather_tokens, num_visible_patches
from keras_dsmae.layers.patch_noise import GaussianPatchNoise
from keras_dsmae.layers.patching import unpatchify
from keras_dsmae.models.decoder import MaskedDecoder
from keras_dsmae.models.fit_inputs import check_image_dtype, prepare_fit_inputs
from keras_dsmae.models.vit_encoder import ViTEncoder
from keras_dsmae.schedules import cosine_momentum
from keras_dsmae.utils import validation
from keras_dsmae.utils.distribution import scale_loss_for_replicas
from keras_dsmae.utils.portable_config import portable_compile_config

TEACHER_VIEWS = ("full", "masked")


def _offset_seed(seed, offset):
    return None if seed is None else seed + offset


@keras.saving.register_keras_serializable(package="keras_dsmae")
class DSMAE(keras.Model):
    """Denoising Self-Distillation Masked Autoencoder.

    The student sees noisy, masked patches; its decoder predicts the clean
    pixels of the masked patches and the features an EMA teacher encoder
    computes on the clean image. `model.fit(images)` trains it; labels, if
    the data yields any, are ignored.

    Loss = `pixel_loss_weight` × pixel loss + `loss_weight` × feature loss
    (+ `contrast_weight` × InfoNCE when two views are used). Each term is
    logged as its own metric: `pixel_loss`, `feature_loss`, `contrast_loss`.

    Configurations:
        DSD-MAE (default): `noise_std > 0`, `loss_weight > 0`.
        MAE: `noise_std=0, loss_weight=0`; no teacher is built or run.
        SdAE-style: `teacher_view="masked", num_folds=F, pixel_loss_weight=0`;
            the teacher sees only the masked patches, split into `F` short
            sequences.
        MV-MAE-style: `contrast_weight > 0`; each image is seen under two
            random masks (and noise draws) and the mean-pooled encoder
            outputs of the two views are contrasted with InfoNCE.

    Teacher: built as an exact copy of the student encoder and moved by
    θ_T ← m·θ_T + (1−m)·θ_S once per training step, inside the compiled
    step (see `update_teacher`). `m` follows a cosine schedule from
    `teacher_momentum` to `teacher_momentum_end` over a number of steps that
    `keras_dsmae.callbacks.TeacherEMA` sets from `fit`'s epochs and steps.
    The schedule position (`ema_step`) and settings are model variables, so
    `.keras` files and checkpoints restore them with the teacher.

    Args:
        image_size: int or `(H, W)` of the (already normalised) images.
        patch_size: side `p` of the square patches; must divide `H` and `W`.
        num_channels: `C`.
        encoder_dim, encoder_depth, encoder_heads: student/teacher ViT size.
        decoder_dim, decoder_depth, decoder_heads: decoder size.
        mlp_ratio: MLP width multiple in every block.
        drop_path_rate: stochastic depth of the student encoder.
        use_cls_token: prepend a class token in the encoders.
        mask_ratio: fraction of patches hidden from the student, in (0, 1).
        noise_std: Gaussian noise added to the student's patches, in
            normalised-pixel units, >= 0 (0 disables it).
        pixel_loss_weight: weight of the pixel loss, >= 0 (0: no pixel head).
        loss_weight: weight of the feature-distillation loss, >= 0 (0: no
            teacher, no feature head).
        norm_pix_loss: per-patch normalised pixel targets (MAE).
        denoise_visible: also reconstruct the visible (noisy) patches.
        feature_loss: `"cosine"` (default), `"mse"` or `"smooth_l1"`.
        teacher_view: `"full"` (teacher sees every clean patch) or
            `"masked"` (only the masked ones, SdAE).
        num_folds: with `teacher_view="masked"`, split the masked patches
            into this many sequences; must divide the number of masked
            patches.
        teacher_momentum: EMA momentum `m0` at the start, in [0, 1].
        teacher_momentum_end: EMA momentum at the end of the schedule.
        contrast_weight: weight of the two-view InfoNCE term, >= 0.
        contrast_temperature: InfoNCE temperature, > 0.
        seed: optional int; masks, noise and drop path reproduce with it
            (weights are initialised from Keras' global seed,
            `keras.utils.set_random_seed`).

    Call:
        images: `(B, H, W, C)` normalised images.

    Returns:
        dict with `"mask"` `(B', N)` (1 = hidden), `"ids_shuffle"` `(B', N)`,
        `"pixels"` `(B', N, p*p*C)` when there is a pixel head, `"features"`
        `(B', N, encoder_dim)` when there is a teacher, `"embedding"`
        `(B', encoder_dim)` with two views; `B' = B`, or `2B` with two views
        (first all first views, then all second views).
    """

    def __init__(
        self,
        image_size=32,
        patch_size=4,
        num_channels=3,
        encoder_dim=192,
        encoder_depth=12,
        encoder_heads=3,
        decoder_dim=128,
        decoder_depth=4,
        decoder_heads=4,
        mlp_ratio=4.0,
        drop_path_rate=0.0,
        use_cls_token=True,
        mask_ratio=0.75,
        noise_std=0.25,
        pixel_loss_weight=1.0,
        loss_weight=1.0,
        norm_pix_loss=True,
        denoise_visible=False,
        feature_loss="cosine",
        teacher_view="full",
        num_folds=1,
        teacher_momentum=0.996,
        teacher_momentum_end=1.0,
        contrast_weight=0.0,
        contrast_temperature=0.2,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        validation.check_width_and_heads("encoder_dim", encoder_dim, "encoder_heads", encoder_heads)
        validation.check_width_and_heads("decoder_dim", decoder_dim, "decoder_heads", decoder_heads)
        validation.check_int("encoder_depth", encoder_depth, minimum=1)
        self.mask_ratio = validation.check_float(
            "mask_ratio", mask_ratio, 0.0, 1.0, low_open=True, high_open=True
        )
        self.noise_std = validation.check_float("noise_std", noise_std, low=0.0)
        self.pixel_loss_weight = validation.check_float(
            "pixel_loss_weight", pixel_loss_weight, low=0.0
        )
        self.loss_weight = validation.check_float("loss_weight", loss_weight, low=0.0)
        self.contrast_weight = validation.check_float(
            "contrast_weight", contrast_weight, low=0.0
        )
        if self.pixel_loss_weight == 0 and self.loss_weight == 0:
            raise ValueError(
                "At least one of `pixel_loss_weight` and `loss_weight` must be "
                "> 0; got pixel_loss_weight=0 and loss_weight=0."
            )
        self.contrast_temperature = validation.check_float(
            "contrast_temperature", contrast_temperature, low=0.0, low_open=True
        )
        self.norm_pix_loss = validation.check_bool("norm_pix_loss", norm_pix_loss)
        self.denoise_visible = validation.check_bool("denoise_visible", denoise_visible)
        self.feature_loss = validation.check_choice(
            "feature_loss", feature_loss, losses.FEATURE_LOSSES
        )
        self.teacher_view = validation.check_choice(
            "teacher_view", teacher_view, TEACHER_VIEWS
        )
        self.num_folds = validation.check_int("num_folds", num_folds, minimum=1)
        self.teacher_momentum = validation.check_float(
            "teacher_momentum", teacher_momentum, 0.0, 1.0
        )
        self.teacher_momentum_end = validation.check_float(
            "teacher_momentum_end", teacher_momentum_end, 0.0, 1.0
        )
        self.seed = validation.check_seed("seed", seed)

        policy = self.dtype_policy
        self.encoder = ViTEncoder(
            image_size=image_size,
            patch_size=patch_size,
            num_channels=num_channels,
            hidden_dim=encoder_dim,
            depth=encoder_depth,
            num_heads=encoder_heads,
            mlp_ratio=mlp_ratio,
            drop_path_rate=drop_path_rate,
            use_cls_token=use_cls_token,
            seed=_offset_seed(seed, 100),
            dtype=policy,
            name="encoder",
        )
        self.num_visible = num_visible_patches(self.encoder.num_patches, self.mask_ratio)
        self.num_masked = self.encoder.num_patches - self.num_visible
        self._check_folds()
        self.noise = GaussianPatchNoise(
            noise_std, seed=seed, dtype=policy, name="patch_noise"
        )
        self.masking = RandomMasking(
            mask_ratio, seed=_offset_seed(seed, 1), dtype=policy, name="masking"
        )
        self.decoder = MaskedDecoder(
            self.encoder.grid_size,
            decoder_dim=decoder_dim,
            depth=decoder_depth,
            num_heads=decoder_heads,
            pixel_dim=self.encoder.patch_dim if self.pixel_loss_weight else 0,
            feature_dim=encoder_dim if self.loss_weight else 0,
            num_prefix_tokens=self.encoder.num_prefix_tokens,
            mlp_ratio=mlp_ratio,
            dtype=policy,
            name="decoder",
        )
        self.teacher = None
        if self.loss_weight:
            teacher_config = {**self.encoder.get_config(), "name": "teacher"}
            teacher_config.update(drop_path_rate=0.0, dtype=policy)
            self.teacher = ViTEncoder.from_config(teacher_config)

        self.pixel_loss_tracker = self._loss_metric("pixel_loss", self.pixel_loss_weight)
        self.feature_loss_tracker = self._loss_metric("feature_loss", self.loss_weight)
        self.contrast_loss_tracker = self._loss_metric("contrast_loss", self.contrast_weight)
        self.ema_step = self._schedule_variable("ema_step", 0, dtype="int32")
        self.momentum_start = self._schedule_variable("momentum_start", teacher_momentum)
        self.momentum_end = self._schedule_variable("momentum_end", teacher_momentum_end)
        self.momentum_total_steps = self._schedule_variable("momentum_total_steps", 0.0)
        self.momentum_start_step = self._schedule_variable("momentum_start_step", 0.0)
        self.build((None, *self.encoder.image_size, self.encoder.num_channels))

    # ------------------------------------------------------------------ setup
    def _check_folds(self):
        if self.num_folds == 1:
            return
        if self.teacher_view != "masked":
            raise ValueError(
                f"`num_folds`={self.num_folds} needs `teacher_view`='masked'; "
                f"got teacher_view={self.teacher_view!r}. Allowed: num_folds=1 "
                f"with teacher_view='full'."
            )
        if self.num_masked % self.num_folds:
            raise ValueError(
                f"`num_folds` must divide the {self.num_masked} masked patches "
                f"(mask_ratio={self.mask_ratio} of {self.encoder.num_patches}); "
                f"got num_folds={self.num_folds}."
            )

    def _loss_metric(self, name, weight):
        return keras.metrics.Mean(name=name) if weight else None

    def _schedule_variable(self, name, value, dtype="float32"):
        return self.add_weight(
            name=name,
            shape=(),
            dtype=dtype,
            initializer=keras.initializers.Constant(value),
            trainable=False,
            autocast=False,
        )

    @property
    def num_views(self):
        """2 when the two-view contrast term is on, else 1."""
        return 2 if self.contrast_weight else 1

    def build(self, input_shape=None):
        if self.built:
            return
        if input_shape is not None:
            validation.check_image_shape(
                input_shape, self.encoder.image_size, self.encoder.num_channels
            )
        self.encoder.build(input_shape)
        self.decoder.build((None, None, self.encoder.hidden_dim))
        if self.teacher is not None:
            self.teacher.build(input_shape)
            self._teacher_pairs = self._pair_teacher_weights()
            for teacher_weight, student_weight in self._teacher_pairs:
                teacher_weight.assign(ops.copy(student_weight.value))
            self.teacher.trainable = False
        self.built = True

    def _pair_teacher_weights(self):
        """Match teacher and student weights by their path inside the encoder."""
        def relative(weight, owner):
            parts = weight.path.split("/")
            return "/".join(parts[parts.index(owner.name) + 1:])

        student = {relative(w, self.encoder): w for w in self.encoder.weights}
        pairs = [
            (w, student[relative(w, self.teacher)]) for w in self.teacher.weights
        ]
        if len(pairs) != len(student):
            raise RuntimeError("Teacher and student encoders differ in weights.")
        return pairs

    # ---------------------------------------------------------------- forward
    def _forward(self, images, training=False):
        """Student forward pass; also returns the corrupted input patches."""
        check_image_dtype(keras.backend.standardize_dtype(images.dtype))
        patches = self.encoder.patchify(images)
        if self.num_views == 2:
            patches = ops.concatenate([patches, patches], axis=0)
        corrupted = self.noise(patches)
        masked = self.masking(self.encoder.embed(corrupted))
        encoded = self.encoder.encode_tokens(masked["visible"], training=training)
        outputs = self.decoder(encoded, masked["ids_restore"], training=training)
        outputs["mask"] = masked["mask"]
        outputs["ids_shuffle"] = masked["ids_shuffle"]
        if self.num_views == 2:
            outputs["embedding"] = ops.mean(
                encoded[:, self.encoder.num_prefix_tokens:], axis=1
            )
        outputs["corrupted_patches"] = corrupted
        return outputs

    def call(self, images, training=False):
        outputs = self._forward(images, training=training)
        del outputs["corrupted_patches"]
        return outputs

    def reconstruct(self, images):
        """Images for display, all `(B, H, W, C)` in the input's normalised
        units: `"corrupted"` (noisy input, hidden patches set to 0),
        `"reconstruction"` (decoder output everywhere) and `"pasted"`
        (visible clean patches + reconstructed hidden ones). With
        `norm_pix_loss`, predictions are mapped back with each clean patch's
        own mean and standard deviation, as in the MAE demo."""
        if self.decoder.pixel_head is None:
            raise ValueError(
                "`reconstruct` needs a pixel head; this model was built with "
                "pixel_loss_weight=0."
            )
        images = ops.convert_to_tensor(images, dtype="float32")
        outputs = self._forward(images, training=False)
        batch = ops.shape(images)[0]
        clean = ops.cast(self.encoder.patchify(images), "float32")
        mask = ops.cast(ops.expand_dims(outputs["mask"][:batch], -1), "float32")
        predicted = ops.cast(outputs["pixels"][:batch], "float32")
        if self.norm_pix_loss:
            mean = ops.mean(clean, axis=-1, keepdims=True)
            std = ops.sqrt(ops.var(clean, axis=-1, keepdims=True) + 1e-6)
            predicted = predicted * std + mean
        corrupted = ops.cast(outputs["corrupted_patches"][:batch], "float32")
        to_image = self._to_images
        return {
            "corrupted": to_image(corrupted * (1.0 - mask)),
            "reconstruction": to_image(predicted),
            "pasted": to_image(clean * (1.0 - mask) + predicted * mask),
        }

    def _to_images(self, patches):
        encoder = self.encoder
        return unpatchify(
            patches, encoder.patch_size, encoder.image_size, encoder.num_channels
        )

    # ------------------------------------------------------------------ loss
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Pixel + `loss_weight` × feature (+ contrast) loss, float32.

        Labels `y` and `sample_weight` are ignored (self-supervised). In
        training, the teacher takes its EMA step here first, so the targets
        of this step come from the teacher that follows the latest student.
        """
        del y, sample_weight
        clean = ops.cast(self.encoder.patchify(x), "float32")
        views = ops.concatenate([clean] * self.num_views, axis=0)
        total = ops.zeros((), "float32")
        if self.pixel_loss_tracker is not None:
            weights = y_pred["mask"]
            if self.denoise_visible:
                weights = ops.ones_like(weights)
            pixel = losses.pixel_reconstruction_loss(
                y_pred["pixels"], views, weights, self.norm_pix_loss
            )
            self.pixel_loss_tracker.update_state(pixel)
            total = total + self.pixel_loss_weight * pixel
        if self.teacher is not None:
            if training:
                self.update_teacher()
            ids_masked = y_pred["ids_shuffle"][:, self.num_visible:]
            targets = self._teacher_targets(clean, ids_masked)
            predictions = gather_tokens(y_pred["features"], ids_masked)
            feature = losses.feature_distillation_loss(
                predictions, targets, self.feature_loss
            )
            self.feature_loss_tracker.update_state(feature)
            total = total + self.loss_weight * feature
        if self.contrast_loss_tracker is not None:
            first, second = ops.split(y_pred["embedding"], 2, axis=0)
            contrast = losses.info_nce_loss(first, second, self.contrast_temperature)
            self.contrast_loss_tracker.update_state(contrast)
            total = total + self.contrast_weight * contrast
        if self.losses:
            total = total + ops.cast(ops.sum(self.losses), "float32")
        return scale_loss_for_replicas(total)

    def _teacher_targets(self, clean_patches, ids_masked):
        """Normalised teacher features at the masked positions.

        Args:
            clean_patches: `(B, N, P)` float32 clean patches.
            ids_masked: `(B', M)` masked positions of each view (`B' = B` or
                `2B`).

        Returns:
            `(B', M, encoder_dim)` float32, no gradient.
        """
        prefix = self.teacher.num_prefix_tokens
        tokens = self.teacher.embed(clean_patches)
        if self.teacher_view == "full":
            encoded = self.teacher.encode_tokens(tokens)[:, prefix:]
            encoded = ops.concatenate([encoded] * self.num_views, axis=0)
            targets = gather_tokens(encoded, ids_masked)
        else:
            tokens = ops.concatenate([tokens] * self.num_views, axis=0)
            hidden = gather_tokens(tokens, ids_masked)
            fold_length = self.num_masked // self.num_folds
            folds = ops.reshape(hidden, (-1, fold_length, self.teacher.hidden_dim))
            encoded = self.teacher.encode_tokens(folds)[:, prefix:]
            targets = ops.reshape(encoded, (-1, self.num_masked, self.teacher.hidden_dim))
        return ops.stop_gradient(losses.normalize_tokens(targets))

    # --------------------------------------------------------------- teacher
    def update_teacher(self):
        """One EMA step θ_T ← m·θ_T + (1−m)·θ_S in float32, then `ema_step += 1`.

        At `ema_step == 0` it is a plain copy (m = 0), so the teacher starts
        as the student even if the student's weights were changed after
        construction. Runs inside `compute_loss` during training, so it is
        compiled with the step on every backend and its state travels with
        the JAX training state.
        """
        step = self.ema_step.value
        momentum = cosine_momentum(
            step,
            self.momentum_total_steps.value,
            self.momentum_start.value,
            self.momentum_end.value,
            self.momentum_start_step.value,
        )
        momentum = ops.where(step == 0, 0.0, momentum)
        for teacher_weight, student_weight in self._teacher_pairs:
            student = ops.stop_gradient(ops.cast(student_weight.value, "float32"))
            teacher = ops.cast(teacher_weight.value, "float32")
            teacher_weight.assign(momentum * teacher + (1.0 - momentum) * student)
        self.ema_step.assign(step + 1)

    def set_teacher_schedule(self, start=None, end=None, total_steps=None, start_step=None):
        """Set the cosine momentum schedule (what `TeacherEMA` calls).

        Args:
            start: momentum at `start_step`, in [0, 1].
            end: momentum from `total_steps` on, in [0, 1].
            total_steps: step at which the schedule ends, >= 0 (0 keeps the
                momentum at `start`).
            start_step: step at which the cosine starts (0 for a new run;
                the current `ema_step` when a resumed run is made longer).
        """
        if self.teacher is None:
            raise ValueError(
                "This model has no teacher (loss_weight=0), so it has no "
                "teacher schedule."
            )
        if start is not None:
            self.momentum_start.assign(
                validation.check_float("momentum_start", start, 0.0, 1.0)
            )
        if end is not None:
            self.momentum_end.assign(validation.check_float("momentum_end", end, 0.0, 1.0))
        if total_steps is not None:
            self.momentum_total_steps.assign(
                float(validation.check_int("total_steps", total_steps, minimum=0))
            )
        if start_step is not None:
            self.momentum_start_step.assign(
                float(validation.check_int("start_step", start_step, minimum=0))
            )

    def current_teacher_momentum(self):
        """The momentum the next EMA step will use, as a Python float."""
        return float(
            cosine_momentum(
                self.ema_step.value,
                self.momentum_total_steps.value,
                self.momentum_start.value,
                self.momentum_end.value,
                self.momentum_start_step.value,
            )
        )

    def fit(self, *args, **kwargs):
        """`keras.Model.fit` with the inputs checked first: uint8 or raw
        0–255 images and empty data raise a `ValueError` that points to
        `keras_dsmae.data.from_arrays`; labels (`y`, or the second element
        of a dataset's tuples) are dropped, as the model ignores them."""
        from keras_dsmae.callbacks.teacher_ema import TeacherEMA

        bound = inspect.signature(keras.Model.fit).bind(self, *args, **kwargs)
        callbacks = bound.arguments.get("callbacks") or []
        has_schedule = any(isinstance(c, TeacherEMA) for c in callbacks)
        if self.teacher is not None and not has_schedule:
            if float(self.momentum_total_steps.value) == 0:
                warnings.warn(
                    "DSMAE.fit without keras_dsmae.callbacks.TeacherEMA: the "
                    "teacher follows the student with a constant momentum "
                    f"{float(self.momentum_start.value)} instead of the cosine "
                    "schedule. Pass callbacks=[keras_dsmae.callbacks."
                    "TeacherEMA()] to schedule it over the run.",
                    stacklevel=2,
                )
        prepare_fit_inputs(bound.arguments)
        arguments = dict(bound.arguments)
        arguments.pop("self")
        return super().fit(**arguments)

    # --------------------------------------------------------- serialization
    def get_compile_config(self):
        config = super().get_compile_config()
        return None if config is None else portable_compile_config(config)

    def compile_from_config(self, config):
        """Compile from a saved config; the optimizer is rebuilt for this
        backend even when the file was saved on another one."""
        return super().compile_from_config(portable_compile_config(config))

    def get_config(self):
        encoder, decoder = self.encoder, self.decoder
        return {
            **super().get_config(),
            "image_size": encoder.image_size,
            "patch_size": encoder.patch_size,
            "num_channels": encoder.num_channels,
            "encoder_dim": encoder.hidden_dim,
            "encoder_depth": encoder.depth,
            "encoder_heads": encoder.num_heads,
            "decoder_dim": decoder.decoder_dim,
            "decoder_depth": decoder.depth,
            "decoder_heads": decoder.num_heads,
            "mlp_ratio": encoder.mlp_ratio,
            "drop_path_rate": encoder.drop_path_rate,
            "use_cls_token": encoder.use_cls_token,
            "mask_ratio": self.mask_ratio,
            "noise_std": self.noise_std,
            "pixel_loss_weight": self.pixel_loss_weight,
            "loss_weight": self.loss_weight,
            "norm_pix_loss": self.norm_pix_loss,
            "denoise_visible": self.denoise_visible,
            "feature_loss": self.feature_loss,
            "teacher_view": self.teacher_view,
            "num_folds": self.num_folds,
            "teacher_momentum": self.teacher_momentum,
            "teacher_momentum_end": self.teacher_momentum_end,
            "contrast_weight": self.contrast_weight,
            "contrast_temperature": self.contrast_temperature,
            "seed": self.seed,
        }

    @classmethod
    def from_preset(cls, name, **overrides):
        """Build a model from a named preset (see `keras_dsmae.presets`);
        `overrides` may be any constructor argument."""
        from keras_dsmae import presets

        config = presets.preset_config(name)
        allowed = set(inspect.signature(cls.__init__).parameters) - {"self", "kwargs"}
        allowed |= {"name", "dtype"}
        unknown = sorted(set(overrides) - allowed)
        if unknown:
            raise ValueError(
                f"Unknown argument(s) for DSMAE.from_preset: {unknown}. "
                f"Allowed: {sorted(allowed)}."
            )
        return cls(**{**config, **overrides})
