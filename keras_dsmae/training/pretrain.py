"""The pretraining job behind `examples/pretrain_*.py`: data, model,
optimizer, callbacks, resume, and the files a run writes."""

import contextlib
import dataclasses
import os
import tempfile
import time

import keras

from keras_dsmae import data, presets
from keras_dsmae.callbacks.history_csv import HistoryCSV
from keras_dsmae.callbacks.reconstruction_grid import ReconstructionGrid
from keras_dsmae.callbacks.run_checkpoint import RunCheckpoint, TrainingDiverged
from keras_dsmae.callbacks.skipped_files_report import SkippedFilesReport
from keras_dsmae.callbacks.teacher_ema import TeacherEMA
from keras_dsmae.data.cardinality import batches_per_epoch
from keras_dsmae.data.decoded_files import ON_ERROR
from keras_dsmae.data.device_feed import AUGMENT_ON
from keras_dsmae.models import DSMAE
from keras_dsmae.optimizers.pretraining import pretraining_optimizer, scaled_learning_rate
from keras_dsmae.plotting import save_history_plot
from keras_dsmae.training.distribution import resolve_distribution
from keras_dsmae.training.precision import resolve_precision
from keras_dsmae.training.run_config import (
    model_signature,
    read_run_config,
    settings_for_continuation,
    write_run_config,
)
from keras_dsmae.utils import validation
from keras_dsmae.utils.finite import non_finite_variables

CHECKPOINT_DIR = "checkpoints"
DEFAULT_IMAGE_SIZE = 224  # for data whose images have mixed sizes


def run_pretraining(
    dataset="cifar100",
    *,
    output_dir,
    preset=None,
    epochs=100,
    steps_per_epoch=None,
    batch_size=256,
    learning_rate=1.5e-4,
    warmup_epochs=10,
    weight_decay=0.05,
    mask_ratio=None,
    noise_std=None,
    loss_weight=None,
    model_overrides=None,
    mixed_precision="auto",
    seed=0,
    data_dir=None,
    use_synthetic_data=False,
    synthetic_examples=2048,
    reconstruction_every=5,
    extra_callbacks=(),
    allow_config_change=False,
    distribution="auto",
    image_size=None,
    normalization=None,
    on_error="skip",
    verbose="auto",
    augment_on="auto",
):
    """Pretrain a DSMAE on `dataset` and write the run into `output_dir`.

    Running again with the same `output_dir` resumes from the last completed
    epoch (weights, optimizer, teacher and EMA schedule position), also when
    `epochs` was raised. Any other changed setting is refused with a
    `ConfigMismatch` (a `ValueError`) naming it, unless `allow_config_change`.
    A run whose weights or loss become non-finite keeps its last good
    checkpoint and encoder, and raises `TrainingDiverged`.

    Args:
        dataset: "cifar10", "cifar100", "stl10", any TFDS image data set as
            "tfds:NAME[/CONFIG][:SPLIT]", a folder of images as
            "folder:PATH", or a numpy file as "npy:PATH" (see
            `keras_dsmae.data.dataset_names`).
        output_dir: where the run's files go (see README: "What a run writes").
        preset: DSMAE preset; default: the one for `image_size`
            (`keras_dsmae.presets.PRESET_FOR_IMAGE_SIZE`).
        epochs: total epochs of the run (not additional ones).
        steps_per_epoch: cap on steps per epoch; default: one pass.
        batch_size: images per step.
        learning_rate: base rate, scaled by `batch_size / 256`.
        warmup_epochs: linear warm-up length, then cosine decay.
        weight_decay: AdamW decoupled weight decay.
        mask_ratio, noise_std, loss_weight: override the preset when given.
        model_overrides: any other `DSMAE` constructor arguments, e.g.
            `{"encoder_depth": 6}`.
        mixed_precision: "auto", "float32", "bfloat16" or "float16".
        seed: model initialisation, masks, noise, data order and augmentation.
        data_dir: TFDS data directory with the prepared data set.
        use_synthetic_data: generated images instead of TFDS (offline runs).
        synthetic_examples: how many generated images.
        reconstruction_every: picture interval in epochs.
        extra_callbacks: more Keras callbacks (e.g. `KNNMonitor`).
        allow_config_change: continue the run in `output_dir` from its last
            checkpoint although settings other than `epochs` changed (not the
            model's shape or precision); the change is recorded in
            `run_config.json`.
        distribution: `"auto"`, `"none"`, `"mirrored"` (TensorFlow) or
            `"data_parallel"` (JAX); see `keras_dsmae.training.distribution`.
            `batch_size` is the global batch, split over the devices.
        image_size: `(H, W)` or int the model takes and the data is cropped
            and resized to; default: the preset's, else the data's own size
            (224 for data of mixed sizes).
        normalization: a `keras_dsmae.data.Normalization`; default: the
            catalog's statistics, or those of a bounded sample of the data
            (a resumed run reuses the ones in its run_config.json).
        on_error: "skip" (warn at the end of each epoch, naming a few) or
            "raise" for image files that do not decode (folders).
        verbose: passed to `fit`.
        augment_on: where the crops, flips and normalisation run: "device"
            (inside the compiled step; a fixed-size data set under
            `data.device_feed.RESIDENT_LIMIT_BYTES` stays on the device and
            steps receive indices), "host" (tf.data) or "auto" ("device");
            see `keras_dsmae.data.device_feed`.

    Returns:
        `(model, history)`: the trained `DSMAE` and the `keras.callbacks.History`.
    """
    validation.check_choice("on_error", on_error, ON_ERROR)
    validation.check_choice("augment_on", augment_on, AUGMENT_ON)
    source = data.open_source(dataset, data_dir=data_dir, use_synthetic_data=use_synthetic_data,
                              synthetic_examples=synthetic_examples, on_error=on_error)
    if image_size is not None:
        image_size = validation.check_image_size("image_size", image_size)
    if normalization is not None and not isinstance(normalization, data.Normalization):
        raise ValueError(
            f"`normalization` must be a keras_dsmae.data.Normalization(mean, std); got "
            f"normalization={normalization!r}."
        )
    validation.check_int("epochs", epochs, minimum=1)
    validation.check_int("batch_size", batch_size, minimum=1)
    if steps_per_epoch is not None:
        validation.check_int("steps_per_epoch", steps_per_epoch, minimum=1)
    validation.check_float("learning_rate", learning_rate, 0.0, low_open=True)
    validation.check_float("warmup_epochs", warmup_epochs, 0.0)
    validation.check_float("weight_decay", weight_decay, 0.0)
    validation.check_seed("seed", seed, allow_none=False)
    validation.check_int("reconstruction_every", reconstruction_every, minimum=1)
    # First: several JAX processes must join before anything touches a device.
    distributed = resolve_distribution(distribution, batch_size)
    saved = read_run_config(output_dir) or {}
    policy = resolve_precision(mixed_precision, saved.get("dtype_policy"))
    preset, overrides = _choose_preset(preset, image_size, source)
    overrides.update({
        key: value
        for key, value in dict(mask_ratio=mask_ratio, noise_std=noise_std, loss_weight=loss_weight).items()
        if value is not None
    })
    overrides.update(model_overrides or {})
    os.makedirs(output_dir, exist_ok=True)

    with distributed.scope():  # model, optimizer and teacher on every device
        keras.utils.set_random_seed(seed)
        previous_policy = keras.config.dtype_policy()
        keras.config.set_dtype_policy(policy)
        try:
            model = DSMAE.from_preset(preset, seed=seed, **overrides)
        finally:
            keras.config.set_dtype_policy(previous_policy)
        image_size = model.encoder.image_size
        _check_model_matches_data(image_size, source, preset, "image_size" in overrides)
        num_channels = model.encoder.num_channels
        normalization = _normalization(normalization, saved, source, num_channels, seed)
        shard, local_batch = distributed.input_shard(batch_size)
        train = source.training_batches(local_batch, image_size=image_size, num_channels=num_channels,
                                        normalization=normalization, seed=seed, shard=shard,
                                        augment_on=augment_on)
        fallback = getattr(train, "batches_per_epoch", None) or (
            max(source.num_examples // batch_size, 1) if source.num_examples else None)
        steps = batches_per_epoch(train, steps_per_epoch, fallback=fallback)
        if steps is None:
            raise ValueError(
                f"The number of images in {dataset!r} is not known before reading it, so "
                f"one epoch has no length: pass steps_per_epoch (--steps_per_epoch)."
            )
        total_steps = epochs * steps
        model.compile(
            optimizer=pretraining_optimizer(
                learning_rate, batch_size, total_steps, round(warmup_epochs * steps), weight_decay
            )
        )

    # Every process runs the same callbacks (reconstructions, kNN and saving
    # are collective with several JAX processes); only the chief's files are
    # kept, the others write into a scratch folder that is deleted.
    chief = distributed.is_chief
    with contextlib.ExitStack() as stack:
        files_dir = output_dir if chief else stack.enter_context(
            tempfile.TemporaryDirectory(prefix="keras_dsmae_not_chief_"))
        checkpoint = RunCheckpoint(os.path.join(output_dir, CHECKPOINT_DIR), writes=chief)
        settings = dict(
            dataset=dataset, preset=preset, epochs=epochs, steps_per_epoch=steps, batch_size=batch_size,
            learning_rate=learning_rate, peak_learning_rate=scaled_learning_rate(learning_rate, batch_size),
            warmup_epochs=warmup_epochs, weight_decay=weight_decay, overrides=overrides,
            dtype_policy=policy, seed=seed, backend=keras.backend.backend(),
            distribution=distributed.name, num_devices=distributed.num_devices,
            use_synthetic_data=use_synthetic_data, model_signature=model_signature(model),
            image_size=list(image_size), normalization=dataclasses.asdict(normalization),
            augment_on=augment_on,
        )
        if checkpoint.checkpoints():
            settings = settings_for_continuation(output_dir, settings, allow_config_change)
        write_run_config(files_dir, settings)
        history_path = os.path.join(files_dir, "history.csv")
        display = source.display_images(8, image_size=image_size, num_channels=num_channels,
                                        normalization=normalization, seed=seed)
        callbacks = [
            TeacherEMA(),
            HistoryCSV(history_path),
            checkpoint,
            keras.callbacks.TerminateOnNaN(),
            keras.callbacks.TensorBoard(os.path.join(files_dir, "tensorboard"), write_graph=False),
            ReconstructionGrid(display, os.path.join(files_dir, "reconstructions"),
                               normalization, reconstruction_every),
            *extra_callbacks,
        ]
        if source.skipped_files is not None:
            callbacks.insert(1, SkippedFilesReport(source.skipped_files))
        print(
            f"keras_dsmae pretraining: {dataset} with {preset} {overrides or ''} on "
            f"{keras.backend.backend()} ({policy}, distribution {distributed.name} over "
            f"{distributed.num_devices} device(s)); {epochs} epochs × {steps} steps of "
            f"{batch_size} images; output in {output_dir}",
            flush=True,
        )
        device_input = getattr(train, "device_input", None)
        print("input: " + (device_input.describe() if device_input is not None
                           else "augmented and normalised by tf.data on the host"), flush=True)
        if model.teacher is None:  # plain MAE: nothing to schedule
            callbacks = [c for c in callbacks if not isinstance(c, TeacherEMA)]
        start = time.time()
        with distributed.fit_scope(), _undecodable_files_named(source):
            repeated = train.repeat()
            repeated.device_input = device_input  # DSMAE.fit finishes the batches on the device
            history = model.fit(repeated, epochs=epochs, steps_per_epoch=steps,
                                callbacks=callbacks, verbose=verbose)
        _raise_if_diverged(checkpoint, output_dir)
        export_encoder(model.encoder, os.path.join(files_dir, "encoder.keras"))
        if os.path.exists(history_path):
            save_history_plot(history_path, os.path.join(files_dir, "curves.png"))
    print(f"done in {time.time() - start:.0f} s; " + (
        f"wrote {output_dir}/encoder.keras, history.csv, curves.png, reconstructions/, tensorboard/"
        if chief else "the chief process writes the files"), flush=True)
    return model, history


def _raise_if_diverged(checkpoint, output_dir):
    """`TrainingDiverged` when the checkpoint refused an epoch's state for
    non-finite weights or loss (`TerminateOnNaN` stops mid-epoch, and the
    epoch's end still reaches the checkpoint's check)."""
    reason = checkpoint.diverged
    if reason is None:
        return
    last = checkpoint.last_good_epoch
    where = (
        f"the last good state is the checkpoint after epoch {last} in "
        f"{os.path.join(output_dir, CHECKPOINT_DIR)}; a rerun resumes from it"
        if last else "no epoch finished with finite weights, so no checkpoint was written"
    )
    raise TrainingDiverged(
        f"Training diverged: {reason}. Nothing from the diverged epoch was saved and "
        f"encoder.keras was not written; {where}. Lower --learning_rate or raise "
        f"--warmup_epochs; to continue the same folder with "
        f"new settings pass --allow_config_change."
    )


def export_encoder(encoder, path):
    """Save `encoder` to `path` (`.keras`) atomically, and only when all its
    weights are finite (otherwise `TrainingDiverged`, and `path` is left as
    it was)."""
    bad = non_finite_variables(encoder.weights)
    if bad:
        raise TrainingDiverged(
            f"Not writing {path}: {len(bad)} encoder weight(s) are non-finite, e.g. {bad[0]}."
        )
    partial = path[: -len(".keras")] + ".partial.keras"
    encoder.save(partial)
    os.replace(partial, path)


def _choose_preset(preset, image_size, source):
    """`(preset, overrides)`: the named preset, with `image_size` overriding
    its own when given; else the preset for `image_size`, the data's own
    size, or 224 pixels for data of mixed sizes."""
    if preset is None:
        size = image_size or source.native_image_size or (DEFAULT_IMAGE_SIZE, DEFAULT_IMAGE_SIZE)
        return presets.preset_for_image_size(size)
    config = presets.preset_config(preset)
    if image_size is not None and image_size != validation.check_image_size("image_size", config["image_size"]):
        return preset, {"image_size": image_size}
    return preset, {}


def _check_model_matches_data(image_size, source, preset, size_chosen):
    """A named preset of another size than data of one fixed size is refused
    unless the size was chosen on purpose (`image_size` or an override)."""
    native = source.native_image_size
    if size_chosen or native is None or tuple(native) == tuple(image_size):
        return
    shown = lambda size: "×".join(map(str, size))  # noqa: E731
    raise ValueError(
        f"`preset` {preset!r} takes {shown(image_size)} images but {source.dataset.text} has "
        f"{shown(native)}; pass image_size={shown(image_size).replace('×', 'x')} "
        f"(--image_size) to crop and resize the data to the preset's size, or a preset "
        f"of the data's size ({presets.preset_for_image_size(native)[0]!r})."
    )


def _normalization(given, saved, source, num_channels, seed):
    """The given normalisation, else a resumed run's own, else the source's
    default (for files: from a bounded sample)."""
    if given is not None:
        return given
    recorded = saved.get("normalization")
    if recorded and len(recorded.get("mean", ())) == num_channels:
        return data.Normalization(tuple(recorded["mean"]), tuple(recorded["std"]))
    return source.default_normalization(num_channels, seed)


@contextlib.contextmanager
def _undecodable_files_named(source):
    """Re-raise a failure of the data iterator caused by an undecodable file
    (`on_error="raise"`) as the `UndecodableFile` that names it (backends
    wrap exceptions raised inside tf.data)."""
    try:
        yield
    except Exception:
        failure = getattr(source.skipped_files, "failure", None)
        if failure is not None:
            raise failure from None
        raise
