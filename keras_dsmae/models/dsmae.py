"""DSD-MAE: a masked autoencoder on noisy patches with an EMA teacher.

The model is a composition of parts (`dsmae_parts`): `ViTEncoder`
(student), `GaussianPatchNoise` + `RandomMasking` (the corrupted view),
`MaskedDecoder` (pixel and feature heads), `EMATeacher` (teacher encoder
and its momentum schedule), a teacher-target strategy (`teacher_targets`),
and loss terms (`losses.terms`); built by `dsmae_parts.build_parts` from
flat arguments, or handed in.
"""

import keras
from keras import ops

from keras_dsmae import losses, presets
from keras_dsmae.layers.patching import unpatchify
from keras_dsmae.layers.resident_images import ResidentImages
from keras_dsmae.models import dsmae_parts, fit_inputs, hf_vit_mae, method_knobs, method_settings
from keras_dsmae.models.legacy import Version01Compatibility
from keras_dsmae.models.device_input import StartDataOrder
from keras_dsmae.utils.callback_order import order_callbacks
from keras_dsmae.utils.distribution import scale_loss_for_replicas, variable_creation_scope
from keras_dsmae.utils.late_state import adding_state
from keras_dsmae.utils.portable_config import PortableCompileConfig
from keras_dsmae.utils.token_math import mean_pool


@keras.saving.register_keras_serializable(package="keras_dsmae")
class DSMAE(Version01Compatibility, PortableCompileConfig, keras.Model):
    """Denoising Self-Distillation Masked Autoencoder.

    The student sees noisy, masked patches; its decoder predicts the clean
    pixels of the masked patches and the features an EMA teacher encoder
    computes on the clean image. `model.fit(images)` trains it (labels are
    ignored); pass `callbacks=[keras_dsmae.callbacks.TeacherEMA()]` to run the
    teacher's momentum on a cosine schedule over the run.

    Loss = `pixel_loss_weight` × pixel + `loss_weight` × feature
    (+ `image_loss_weight` × image-level teacher term, + `contrast_weight` ×
    InfoNCE of two views), each logged as a metric: `pixel_loss`,
    `feature_loss`, `image_loss`, `contrast_loss`; with a feature term also
    `target_std` and `prediction_std` (spread across tokens; falls towards 0
    on collapse). The teacher terms ramp up linearly from 0 over the first
    `loss_weight_warmup` of the teacher's schedule (which `TeacherEMA` sets
    to the length of the `fit` run).

    Several masked copies per image (`masks_per_image=M`, data2vec 2.0's
    multi-mask training): each image of the batch is corrupted `M` times,
    each copy with its own noise and mask; the teacher encodes the clean
    image once and its targets serve every copy; each loss is the mean over
    the copies (logged under the same names). The batch size stays the
    number of images; the student's encoder and decoder process `M` times
    as many rows, so their step time and activation memory grow about
    `M`-fold, while the teacher pass and the input pipeline do not (the
    `"masked"` teacher target encodes each copy's hidden patches, so its
    teacher pass grows `M`-fold too). Not with a two-view term.

    Configurations (see `keras_dsmae.presets`): DSD-MAE (default); MAE
    (`noise_std=0, loss_weight=0`: no teacher); SdAE-style
    (`teacher_target="masked", num_folds=F, pixel_loss_weight=0`); MV-MAE-style
    (`contrast_weight > 0`: two views per image, two random resized crops
    with `contrast_views="crops"` as in the paper, or two masks of one
    image with `"masks"`); data2vec-style
    targets (`teacher_target="layer_average"`).

    Two ways to build it:

    - **from flat arguments** (the architecture below and the method knobs;
      what presets, `--model_overrides`, the tuner and files of 0.2 use):
      `DSMAE(encoder_dim=192, mask_ratio=0.75, ...)`; `get_config` returns
      those arguments;
    - **from built parts** (keras-hub style), each owning its knobs:
      `DSMAE(encoder=ViTEncoder(...), noise=GaussianPatchNoise(0.25),
      masking=RandomMasking(0.75), decoder=MaskedDecoder(...),
      loss_terms=[PixelReconstructionTerm(1.0), FeatureDistillationTerm(1.0)],
      teacher=EMATeacher(encoder.get_config()), teacher_target=
      MaskedFoldsTarget(num_folds=2), seed=0)`; optional parts:
      `feature_predictor`, `image_head`, `view_crop` (see
      `keras_dsmae.models.dsmae_parts`, which checks that they fit
      together). A handed-in encoder keeps its (trained) weights and the
      teacher starts from them; `get_config` returns each part's config.

    Args:
        image_size, patch_size, num_channels: image `(H, W)` (or int), patch
            side `p` (divides H and W), channels `C`.
        encoder_dim, encoder_depth, encoder_heads: student/teacher ViT size.
        decoder_dim, decoder_depth, decoder_heads: decoder size.
        mlp_ratio, drop_path_rate, use_cls_token: see `ViTEncoder`.
        layer_norm_epsilon: epsilon of every LayerNorm of the encoder,
            teacher and decoder (1e-6 as facebookresearch/mae; a
            transformers ViTMAE config says 1e-12).
        **knobs: the method knobs, by part (the table in
            `keras_dsmae.models.method_knobs`, listed below), or the parts
            (`encoder`, `noise`, `masking`, `decoder`, `loss_terms` and the
            optional ones) with `seed`; and Keras' `name`, `dtype`.

    Method knobs:
{knob_docs}

    Call arguments:
        images: `(B, H, W, C)` normalised float images; after
            `use_device_input` also `(B, H0, W0, C)` uint8 images, which
            the model augments (in training) and normalises itself, or,
            with resident images, `(B,)` integer indices into them.
        training: drop path on or off (and the device augmentation).
        mask_scores: optional `(B', N)` floats that fix the masks instead
            of the random draw: the `K` lowest of each row stay visible, as
            transformers' `ViTMAEForPreTraining(pixel_values, noise=...)`
            (same weights and scores give the same loss and predictions).

    Returns:
        dict with `"mask"` `(B', N)` (1 = hidden), `"ids_shuffle"` `(B', N)`,
        `"pixels"` `(B', N, p*p*C)` with a pixel head, `"features"`
        `(B', N, encoder_dim)` with a feature term, `"embedding"` `(B',
        encoder_dim)` (mean of the visible encoded tokens) with two views or
        an image term, `"image_prediction"` `(B', encoder_dim)` with an image
        term, `"clean_patches"` `(B', N, p*p*C)` with `contrast_views="crops"`;
        `B' = M·B` with `masks_per_image=M` (copy `m` of image `b` at row
        `m·B + b`), or `2B` with two views.
    """

    def __init__(self, image_size=32, patch_size=4, num_channels=3, encoder_dim=192,
                 encoder_depth=12, encoder_heads=3, decoder_dim=128, decoder_depth=4,
                 decoder_heads=4, mlp_ratio=4.0, drop_path_rate=0.0, use_cls_token=True, layer_norm_epsilon=1e-6,
                 **kwargs):
        architecture = method_settings.arguments_given(DSMAE.__init__, locals())
        parts = dsmae_parts.take_parts(kwargs)
        if parts:
            method_settings.refuse_flat_arguments(DSMAE.__init__, architecture, kwargs)
            seed = method_knobs.method_knobs()["seed"].check("seed", kwargs.pop("seed", None))
            super().__init__(**kwargs)
            self.settings = self.architecture = None  # get_config writes the parts
            parts = dsmae_parts.check_parts(dsmae_parts.deserialize_parts(parts))
        else:
            knobs = method_settings.take_knobs(kwargs)
            super().__init__(**kwargs)
            self.settings = method_settings.check(architecture, knobs)
            seed = self.settings["seed"]
            parts = dsmae_parts.build_parts(architecture, self.settings, self.dtype_policy)
            self.architecture = {**architecture, "image_size": parts["encoder"].image_size}  # get_config's
        self.seed = seed
        self._compose(parts)
        self.build((None, *self.encoder.image_size, self.encoder.num_channels))

    def _compose(self, parts):
        """Take the parts (`dsmae_parts`), tracked in the order that fixes
        the weights' order, and what follows from them."""
        self.encoder = parts["encoder"]
        self.teacher_target = parts["teacher_target"]
        self.noise = parts["noise"]
        self.masking = parts["masking"]
        self.num_visible = self.masking.num_visible(self.encoder.num_patches)
        self.decoder = parts["decoder"]
        self.feature_predictor = parts["feature_predictor"]
        self.image_head = parts["image_head"]
        self.ema_teacher = parts["teacher"]
        self.loss_terms = parts["loss_terms"]
        self.masks_per_image = self.masking.masks_per_image
        self.two_views = any(term.two_views for term in self.loss_terms)
        self.num_views = 2 if self.two_views else self.masks_per_image  # student copies of each image
        self.view_crop = parts["view_crop"]
        self.input_augmentation = None  # see use_device_input
        self.resident_images = None
        self._device_input = None

    @property
    def teacher(self):
        """The teacher `ViTEncoder`, or None without a teacher (loss_weight=0)."""
        return None if self.ema_teacher is None else self.ema_teacher.encoder

    def build(self, input_shape=None):
        if self.built:
            return
        encoded_shape = (None, None, self.encoder.hidden_dim)
        for part, shape in ((self.encoder, input_shape), (self.decoder, encoded_shape),
                            (self.feature_predictor, encoded_shape),
                            (self.image_head, (None, self.encoder.hidden_dim)),
                            (self.ema_teacher, input_shape)):
            if part is not None and not part.built:  # a handed-in part may come built (trained)
                part.build(shape)
        for term in self.loss_terms:
            with adding_state(term):  # a term is built at construction; its head comes now
                term.build_head(self.encoder)
        if self.ema_teacher is not None:
            self.ema_teacher.copy_from(self.encoder)
        self.built = True

    def use_device_input(self, device_input):
        """Finish the batches of a pipeline on the device from now on.

        Args:
            device_input: a `keras_dsmae.models.DeviceInput`, as pipelines
                with `augment_on="device"` carry it (`dataset.device_input`);
                `fit` calls this itself when given such a dataset.

        Adds a `DeviceAugmentation` layer (uint8 images → augmented,
        normalised inputs) and, for resident images, a `ResidentImages`
        layer (indices → uint8 images). Neither is part of the model's
        config or weights: a saved or checkpointed model holds no images,
        and a loaded one takes float images again until this is called.
        """
        if device_input is self._device_input:
            return
        resident = device_input.resident_images
        if resident is not None and self.resident_images is not None:
            held = self.resident_images
            if (held.num_images, held.image_shape) != (resident.shape[0], tuple(resident.shape[1:])):
                raise ValueError(
                    f"This model already holds {held.num_images} resident images of shape "
                    f"{held.image_shape}; got {resident.shape[0]} of shape {tuple(resident.shape[1:])}. "
                    f"Resident data of another shape needs a new model (load the weights into it)."
                )
        with adding_state(self), variable_creation_scope(self):
            if self.input_augmentation is None:
                self.input_augmentation = device_input.augmentation(
                    seed=method_settings.offset_seed(self.seed, 3), name="input_augmentation")
            else:  # one layer (and one seed stream) for the model's life
                self.input_augmentation.configure(**device_input.augmentation_settings())
            if resident is not None and self.resident_images is None:
                self.resident_images = ResidentImages(resident, name="resident_images")
            elif resident is not None:
                self.resident_images.images.assign(resident)
        self._device_input = device_input
        self.train_function = self.test_function = self.predict_function = None  # traced anew

    def _model_inputs(self, inputs, training):
        """`(images, made)`: the normalised float images the student sees,
        and whether the model made them itself (from indices or uint8)."""
        dtype = keras.backend.standardize_dtype(inputs.dtype)
        if len(inputs.shape) == 1:  # indices (of any dtype: Keras' build under tf.distribute averages them)
            if self.resident_images is None:
                raise ValueError(
                    f"Got a batch of {dtype} indices of shape {tuple(inputs.shape)}, but this "
                    f"model holds no resident images. Fit it on the dataset that yields "
                    f"them (it carries `device_input`), or call use_device_input first."
                )
            inputs, dtype = self.resident_images(inputs), "uint8"
        if "float" in dtype:
            return inputs, False
        if self.input_augmentation is None:
            fit_inputs.check_image_dtype(dtype)
        return self.input_augmentation(inputs, training=training), True

    def _forward(self, images, training=False, mask_scores=None):
        """Student forward pass; also returns the corrupted input patches."""
        images, made_inputs = self._model_inputs(images, training)
        patches = self.encoder.patchify(images)
        if self.view_crop is not None:
            patches = ops.concatenate([patches, self.encoder.patchify(self.view_crop(images))], axis=0)
        elif self.num_views > 1:  # copies of the image, each with its own noise and mask
            patches = ops.concatenate([patches] * self.num_views, axis=0)
        corrupted = self.noise(patches)
        masked = self.masking(self.encoder.embed(corrupted), scores=mask_scores)
        encoded = self.encoder.encode_tokens(masked["visible"], training=training)
        outputs = self.decoder(encoded, masked["ids_restore"], training=training)
        if self.feature_predictor is not None:
            outputs.update(self.feature_predictor(encoded, masked["ids_restore"], training=training))
        outputs.update(mask=masked["mask"], ids_shuffle=masked["ids_shuffle"])
        if self.two_views or self.image_head is not None:
            outputs["embedding"] = mean_pool(encoded, self.encoder.num_prefix_tokens)
        if self.image_head is not None:
            outputs["image_prediction"] = self.image_head(outputs["embedding"])
        for term in self.loss_terms:  # heads that terms bring
            outputs.update(term.head_outputs(encoded, self.encoder, training=training))
        outputs["corrupted_patches"] = corrupted
        if self.view_crop is not None:
            outputs["clean_patches"] = patches
        elif made_inputs:  # the loss needs the images the model made
            outputs["clean_patches"] = patches[: ops.shape(images)[0]]
        return outputs

    def call(self, images, training=False, mask_scores=None):
        outputs = self._forward(images, training=training, mask_scores=mask_scores)
        del outputs["corrupted_patches"]
        return outputs

    def reconstruct(self, images, mask_scores=None):
        """Images for display, all `(B, H, W, C)` float32 in the input's
        units: `"corrupted"` (noisy input, hidden patches 0), `"reconstruction"`
        (decoder output everywhere) and `"pasted"` (visible clean patches +
        reconstructed hidden ones). With `norm_pix_loss`, predictions are
        mapped back with each clean patch's mean and std, as in the MAE demo.
        `mask_scores` fixes the masks as in `call`."""
        if self.decoder.pixel_head is None:
            raise ValueError("`reconstruct` needs a pixel head; this model was built with pixel_loss_weight=0.")
        images = ops.convert_to_tensor(images, dtype="float32")
        outputs = self._forward(images, training=False, mask_scores=mask_scores)
        batch = ops.shape(images)[0]
        clean = ops.cast(self.encoder.patchify(images), "float32")
        mask = ops.cast(ops.expand_dims(outputs["mask"][:batch], -1), "float32")
        predicted = ops.cast(outputs["pixels"][:batch], "float32")
        for term in self.loss_terms:
            if getattr(term, "norm_pix_loss", False):
                mean, std = term.target_statistics(clean)
                predicted = predicted * std + mean
                break
        corrupted = ops.cast(outputs["corrupted_patches"][:batch], "float32")
        encoder = self.encoder
        def to_image(patches):
            return unpatchify(patches, encoder.patch_size, encoder.image_size, encoder.num_channels)
        return {
            "corrupted": to_image(corrupted * (1.0 - mask)),
            "reconstruction": to_image(predicted),
            "pasted": to_image(clean * (1.0 - mask) + predicted * mask),
        }

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=False):
        """The sum of the loss terms (float32); `y` and `sample_weight` are
        ignored (self-supervised). With `training=True` (as `fit` calls it)
        the teacher first takes its EMA step, so this step's targets come
        from the teacher that follows the latest student; a direct call
        leaves the teacher as it is."""
        del y, sample_weight
        if training and self.ema_teacher is not None:
            self.ema_teacher.update(self.encoder)
        if "clean_patches" in y_pred:  # two crops are two images to every term
            clean = y_pred["clean_patches"]
            num_views = 1 if self.view_crop is not None else self.num_views
        else:
            clean, num_views = self.encoder.patchify(x), self.num_views
        inputs = losses.LossInputs(
            outputs=y_pred, clean_patches=ops.cast(clean, "float32"),
            num_views=num_views, num_visible=self.num_visible,
            teacher_targets=self._teacher_targets if self.teacher is not None else None,
            teacher_scale=self.teacher_loss_scale(),
        )
        total = ops.zeros((), "float32")
        for term in self.loss_terms:
            total = total + term.weighted_loss(inputs)
        if self.losses:
            total = total + ops.cast(ops.sum(self.losses), "float32")
        return scale_loss_for_replicas(total)

    def teacher_loss_scale(self):
        """Multiplier of the teacher terms' weights: the linear warm-up from
        0 to 1 over the first `loss_weight_warmup` of the teacher's schedule
        (a float32 scalar), or 1.0 without warm-up or teacher."""
        return 1.0 if self.ema_teacher is None else self.ema_teacher.loss_scale()

    def _teacher_targets(self, clean_patches, ids_masked):
        # with two crops `clean_patches` already holds both views
        num_views = 1 if self.view_crop is not None else self.num_views
        return self.teacher_target(self.teacher, clean_patches, ids_masked, num_views)

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=None, **kwargs):
        """`keras.Model.fit` with the inputs checked first (see
        `models.fit_inputs`: uint8, raw 0–255 or empty images raise a
        `ValueError` unless the dataset finishes its batches on the device;
        labels are dropped; a streaming folder's epoch length
        is taken from `x.batches_per_epoch`), and the callbacks run in the order
        their epoch-end work needs (see `keras_dsmae.utils.callback_order`).
        A dataset that carries `device_input` (`augment_on="device"`) is
        finished on the device: see `use_device_input`."""
        del y  # self-supervised
        device_input = getattr(x, "device_input", None)
        if device_input is not None:
            self.use_device_input(device_input)
        x, kwargs = fit_inputs.with_epoch_length(x, kwargs)
        x, shuffle = fit_inputs.prepare(x, shuffle, raw_inputs=self.input_augmentation is not None)
        callbacks = order_callbacks(callbacks)
        if device_input is not None and device_input.start_at_epoch is not None:
            callbacks = fit_inputs.with_callback(callbacks, StartDataOrder(device_input))
        fit_inputs.warn_without_teacher_schedule(self, callbacks)
        return super().fit(
            x, batch_size=batch_size, epochs=epochs, verbose=verbose, callbacks=callbacks,
            validation_split=validation_split, validation_data=validation_data,
            shuffle=shuffle, **kwargs,
        )

    @classmethod
    def from_config(cls, config):
        """The model of `config`; a flat config of keras_dsmae 0.2 (or 0.1),
        which has no `visible_rounding`, keeps the rules it was trained with
        (`method_settings.RELEASE_0_2_RULES`)."""
        return super().from_config(method_settings.with_release_0_2_rules(config))

    def get_config(self):
        """The flat arguments of a model built from them (the form of 0.2's
        files); for one built from parts, each part's own config and `seed`."""
        if self.settings is None:
            return {**super().get_config(), "seed": self.seed, **dsmae_parts.serialize_parts(self)}
        return {**super().get_config(), **method_settings.config_of(self)}

    @classmethod
    def from_preset(cls, name, **overrides):
        """A model from a named preset (`keras_dsmae.presets`); `overrides`
        may be any constructor argument."""
        overrides = method_settings.current_names(overrides)
        return cls(**presets.preset_config(name, overrides, allowed=cls.argument_names()))

    @classmethod
    def from_pretrained_mae(cls, folder, preset=None, **overrides):
        """A model started from a Hugging Face ViTMAE folder (`config.json`
        with `"model_type": "vit_mae"` and `model.safetensors` or
        `pytorch_model.bin`, as `facebook/vit-mae-*` ship them or
        `keras-dsmae-export --format=vit_mae` writes them): the encoder
        (and the teacher, as its copy), and the decoder when its size is
        the folder's. The layout, and what it refuses: `models.hf_vit_mae`.

        Args:
            folder: the folder.
            preset: the method (noise, masking, teacher, terms) to go on
                with, e.g. `"dsmae_vit_tiny_cifar"` for DSD-MAE as a second
                stage; the architecture is always the folder's. None: the
                folder's own MAE (its `mask_ratio` and `norm_pix_loss`, no
                noise, no teacher).
            **overrides: other constructor arguments; an encoder size
                other than the folder's is refused, a decoder size other
                than the folder's starts that decoder fresh.

        Returns:
            A built `DSMAE`, its weights from the folder.
        """
        config = hf_vit_mae.read_vit_mae_config(folder)
        architecture = hf_vit_mae.dsmae_architecture(config, folder)
        overrides = method_settings.current_names(overrides)
        hf_vit_mae.check_fits(architecture, overrides, folder)
        method = hf_vit_mae.mae_settings(config) if preset is None else {}
        model = cls.from_preset(preset or hf_vit_mae.MAE_PRESET, **{**method, **architecture, **overrides})
        hf_vit_mae.load_vit_mae_weights(model, folder)
        return model

    @classmethod
    def argument_names(cls):
        """Every name `DSMAE(...)`, presets and `--model_overrides` may use:
        the architecture (the signature), the method knobs (old names too),
        and Keras' `name` and `dtype`."""
        return (*method_settings.architecture_names(cls.__init__), *method_knobs.method_knobs(),
                *method_knobs.RENAMED_KNOBS, "name", "dtype")


DSMAE.__doc__ = DSMAE.__doc__.replace("{knob_docs}", method_knobs.knob_docs())
