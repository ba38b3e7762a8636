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
from keras_dsmae.callbacks.knn_monitor import KNNMonitor
from keras_dsmae.callbacks.reconstruction_grid import ReconstructionGrid
from keras_dsmae.callbacks.run_checkpoint import RunCheckpoint, TrainingDiverged
from keras_dsmae.callbacks.skipped_files_report import SkippedFilesReport
from keras_dsmae.callbacks.teacher_ema import TeacherEMA
from keras_dsmae.data.cardinality import batches_per_epoch
from keras_dsmae.data.epoch_stream import EpochStream
from keras_dsmae.optimizers.pretraining import pretraining_optimizer, scaled_learning_rate
from keras_dsmae.plotting import save_history_plot
from keras_dsmae.training.distribution import resolve_distribution
from keras_dsmae.training.precision import resolve_precision
from keras_dsmae.training.pretraining_config import PretrainingConfig
from keras_dsmae.training.resumable_fit import fit_resumable
from keras_dsmae.training.run_lock import run_lock
from keras_dsmae.training.starting_point import load_starting_point, starting_architecture
from keras_dsmae.training.run_model import CHECKPOINT_DIR, build_model
from keras_dsmae.training.run_config import (
    model_rules,
    model_signature,
    read_run_config,
    rules_of,
    settings_for_continuation,
    write_run_config,
)
from keras_dsmae.utils import validation
from keras_dsmae.utils.atomic_write import atomic_path
from keras_dsmae.utils.finite import non_finite_variables
from keras_dsmae.utils.stop_signals import stop_on_signals

DEFAULT_IMAGE_SIZE = 224  # for data whose images have mixed sizes


def run_pretraining(config=None, /, *, extra_callbacks=(), verbose="auto", **settings):
    """Pretrain a DSMAE as `config` says, and write the run into its
    `output_dir` (see examples/README.md, "What a run writes").

    Running again with the same `output_dir` resumes from the last completed
    epoch (weights, optimizer, teacher and EMA schedule position), also when
    `epochs` was raised. Any other changed setting is refused with a
    `ConfigMismatch` (a `ValueError`) naming it, unless `allow_config_change`.
    A run whose weights or loss become non-finite keeps its last good
    checkpoint and encoder, and raises `TrainingDiverged`.

    Args:
        config: a `PretrainingConfig`, or a data set name (its `dataset`);
            default: `PretrainingConfig()`.
        extra_callbacks: more Keras callbacks (e.g. `KNNMonitor`).
        verbose: passed to `fit`.
        **settings: `PretrainingConfig` fields, over those of `config`
            (`run_pretraining("cifar10", output_dir="runs/c10", epochs=200)`).

    Returns:
        `(model, history)`: the trained `DSMAE` and the `keras.callbacks.History`.
    """
    config = _as_config(config, settings)
    output_dir = config.run_folder
    source = data.open_source(config.dataset, data_dir=config.data_dir,
                              use_synthetic_data=config.use_synthetic_data,
                              synthetic_examples=config.synthetic_examples, on_error=config.on_error)
    # First: several JAX processes must join before anything touches a device.
    distributed = resolve_distribution(config.distribution, config.batch_size)
    saved = read_run_config(output_dir) or {}
    policy = resolve_precision(config.mixed_precision, saved.get("dtype_policy"))
    requested = {**({"image_size": config.image_size} if config.image_size else {}), **config.model_settings()}
    architecture = starting_architecture(config.init_from, requested)
    image_size = config.image_size or architecture.get("image_size")
    preset, overrides = _choose_preset(
        config.preset, image_size and validation.check_image_size("image_size", image_size), source)
    overrides.update({**architecture, **config.model_settings()})
    _make_output_dir(output_dir)

    # One writer per run folder, from before the first piece of work to the last file.
    with run_lock(output_dir, enabled=distributed.is_chief):
        with distributed.scope():  # model, optimizer and teacher on every device
            model = build_model(preset, {**model_rules(saved), **overrides}, policy, config.seed)
            if config.init_from:
                load_starting_point(model, config.init_from)
            image_size, num_channels = model.encoder.image_size, model.encoder.num_channels
            _check_model_matches_data(image_size, source, preset, "image_size" in overrides)
            normalization = _normalization(config.normalization, saved, source, num_channels, config.seed)
            shard, local_batch = distributed.input_shard(config.batch_size)
            train = source.training_batches(local_batch, image_size=image_size, num_channels=num_channels,
                                            normalization=normalization, seed=config.seed, shard=shard,
                                            augment_on=config.augment_on,
                                            crop_scale=(config.crop_scale_min, 1.0))
            steps = _steps_per_epoch(train, source, config)
            model.compile(optimizer=pretraining_optimizer(
                config.learning_rate, config.batch_size, config.epochs * steps,
                round(config.warmup_epochs * steps), config.weight_decay),
                jit_compile=config.keras_jit_compile())

        # Every process runs the same callbacks (reconstructions, kNN and saving
        # are collective with several JAX processes); only the chief's files are
        # kept, the others write into a scratch folder that is deleted.
        chief = distributed.is_chief
        with contextlib.ExitStack() as stack:
            files_dir = output_dir if chief else stack.enter_context(
                tempfile.TemporaryDirectory(prefix="keras_dsmae_not_chief_"))
            stop_request = stack.enter_context(stop_on_signals())
            checkpoint = RunCheckpoint(os.path.join(output_dir, CHECKPOINT_DIR), writes=chief,
                                       every_steps=config.checkpoint_every_steps,
                                       every_minutes=config.checkpoint_every_minutes or None,
                                       stop_request=stop_request)
            settings = dict(
                config.recorded(), preset=preset, steps_per_epoch=steps, overrides=overrides,
                dtype_policy=policy, image_size=list(image_size),
                normalization=dataclasses.asdict(normalization),
                peak_learning_rate=scaled_learning_rate(config.learning_rate, config.batch_size),
                backend=keras.backend.backend(), distribution=distributed.name,
                num_devices=distributed.num_devices, model_signature=model_signature(model),
                mae_rules=rules_of(model),
            )
            if checkpoint.checkpoints():
                settings = settings_for_continuation(output_dir, settings, config.allow_config_change)
            write_run_config(files_dir, settings)
            history_path = os.path.join(files_dir, "history.csv")
            display = source.display_images(8, image_size=image_size, num_channels=num_channels,
                                            normalization=normalization, seed=config.seed)
            callbacks = [
                TeacherEMA(total_steps=config.epochs * steps),
                HistoryCSV(history_path),
                checkpoint,
                keras.callbacks.TerminateOnNaN(),
                keras.callbacks.TensorBoard(os.path.join(files_dir, "tensorboard"), write_graph=False),
                ReconstructionGrid(display, os.path.join(files_dir, "reconstructions"),
                                   normalization, config.reconstruction_every),
                *_knn_monitor(config, image_size),
                *extra_callbacks,
            ]
            if source.skipped_files is not None:
                callbacks.insert(1, SkippedFilesReport(source.skipped_files))
            if model.teacher is None:  # plain MAE: nothing to schedule
                callbacks = [c for c in callbacks if not isinstance(c, TeacherEMA)]
            device_input = getattr(train, "device_input", None)
            _announce(config, model, preset, overrides, policy, distributed, steps, output_dir, device_input)
            start = time.time()
            # Each epoch's batches are a function of (seed, epoch): a resumed run reads on from
            # its checkpoint's step exactly (fit_resumable positions the stream).
            stream = EpochStream(train.training_passes, steps, device_input=device_input and
                                 dataclasses.replace(device_input, start_at_epoch=None))
            with distributed.fit_scope(), _undecodable_files_named(source):
                history = fit_resumable(model, stream, epochs=config.epochs, callbacks=callbacks,
                                        verbose=verbose)
            _raise_if_diverged(checkpoint, output_dir)
            export_encoder(model.encoder, os.path.join(files_dir, "encoder.keras"))
            if os.path.exists(history_path):
                save_history_plot(history_path, os.path.join(files_dir, "curves.png"))
        print(f"done in {time.time() - start:.0f} s; " + (
            f"wrote {output_dir}/encoder.keras, history.csv, curves.png, reconstructions/, tensorboard/"
            if chief else "the chief process writes the files"), flush=True)
        return model, history


def _make_output_dir(output_dir):
    """Create the run folder, or refuse it with one line before any work."""
    try:
        os.makedirs(output_dir, exist_ok=True)
    except OSError as error:
        raise ValueError(f"`output_dir` {output_dir!r} cannot be created ({error.strerror or error}); "
                         f"pass a folder this process may write to.") from None
    if not os.access(output_dir, os.W_OK | os.X_OK):
        raise ValueError(f"`output_dir` {output_dir!r} is not writable by this process; pass a folder "
                         f"it may write to.")


def _as_config(config, settings):
    """The `PretrainingConfig` of `run_pretraining`'s arguments."""
    if config is None:
        return PretrainingConfig(**settings)
    if isinstance(config, str):
        return PretrainingConfig(dataset=config, **settings)
    if not isinstance(config, PretrainingConfig):
        raise ValueError(
            f"`config` must be a PretrainingConfig or a data set name; got config={config!r}."
        )
    return dataclasses.replace(config, **settings) if settings else config


def _steps_per_epoch(train, source, config):
    """`config.steps_per_epoch`, else one pass over the data."""
    fallback = getattr(train, "batches_per_epoch", None) or (
        max(source.num_examples // config.batch_size, 1) if source.num_examples else None)
    steps = batches_per_epoch(train, config.steps_per_epoch, fallback=fallback)
    if steps is None:
        raise ValueError(
            f"The number of images in {config.dataset!r} is not known before reading it, so "
            f"one epoch has no length: pass steps_per_epoch (--steps_per_epoch)."
        )
    return steps


def _knn_monitor(config, image_size):
    """`[KNNMonitor]` when `config.knn_every`, else `[]`."""
    if not config.knn_every:
        return []
    return [KNNMonitor.for_dataset(
        config.dataset, every_n_epochs=config.knn_every, data_dir=config.data_dir,
        use_synthetic_data=config.use_synthetic_data, seed=config.seed, image_size=tuple(image_size),
    )]


def _announce(config, model, preset, overrides, policy, distributed, steps, output_dir, device_input):
    print(
        f"keras_dsmae pretraining: {config.dataset} with {preset} {overrides or ''} on "
        f"{keras.backend.backend()} ({policy}, distribution {distributed.name} over "
        f"{distributed.num_devices} device(s)); {config.epochs} epochs × {steps} steps of "
        f"{config.batch_size} images, compiled step: {model.jit_compile}; output in {output_dir}",
        flush=True,
    )
    print("input: " + (device_input.describe() if device_input is not None
                       else "augmented and normalised by tf.data on the host"), flush=True)


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
    with atomic_path(path) as partial:
        encoder.save(partial)


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
