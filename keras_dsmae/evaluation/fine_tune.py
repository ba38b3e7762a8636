"""End-to-end fine-tuning of a pretrained encoder (MAE recipe, scaled down)."""

import dataclasses

import keras
import numpy as np

from keras_dsmae.data.cardinality import batches_per_epoch
from keras_dsmae.data.mixing import mix_batches
from keras_dsmae.evaluation.features import check_labels, labels_of
from keras_dsmae.models.classifier import build_classifier
from keras_dsmae.models.fit_inputs import with_epoch_length
from keras_dsmae.optimizers.layerwise_adamw import LayerwiseDecayAdamW
from keras_dsmae.optimizers.pretraining import NO_WEIGHT_DECAY, scaled_learning_rate
from keras_dsmae.optimizers.schedules import warmup_cosine_schedule
from keras_dsmae.utils import validation


@dataclasses.dataclass
class FineTuneResult:
    """`accuracy` on the test data, the trained `model` and its `history`."""

    accuracy: float
    model: keras.Model
    history: keras.callbacks.History


def _to_dataset(data, batch_size, training, seed):
    import tensorflow as tf

    if isinstance(data, (tuple, list)) and len(data) == 2:
        images, labels = np.asarray(data[0], "float32"), np.asarray(data[1]).reshape(-1)
        dataset = tf.data.Dataset.from_tensor_slices((images, labels))
        if training:
            dataset = dataset.shuffle(min(len(images), 50_000), seed=seed, reshuffle_each_iteration=True)
        return dataset.batch(batch_size, drop_remainder=training), len(images), None
    if not hasattr(data, "element_spec"):
        raise ValueError(
            "Fine-tuning data must be an `(images, labels)` pair of arrays or a "
            f"batched labelled tf.data.Dataset; got {type(data).__name__}."
        )
    batches = batches_per_epoch(data)
    if training and batches is None:
        repeated, fit_kwargs = with_epoch_length(data, {})  # a streamed folder (files may be skipped)
        if "steps_per_epoch" in fit_kwargs:
            steps = fit_kwargs["steps_per_epoch"]
            return repeated, steps * batch_size, steps
        raise ValueError(
            "The fine-tuning dataset must have a known, finite number of batches "
            f"(tf.data cardinality {int(data.cardinality())}) to size the learning-rate "
            "schedule; avoid `repeat()` and filters, or pass arrays."
        )
    return data, (batches or 0) * batch_size, None


def training_batches(train, num_classes, batch_size, mixup_alpha, cutmix_alpha, label_smoothing, seed):
    """The batches `fine_tune` trains on: `train` batched (arrays are
    shuffled), then mixed and smoothed.

    Args:
        train: `(images, labels)` arrays or a batched labelled `tf.data.Dataset`
            (see `fine_tune`).
        num_classes, batch_size, mixup_alpha, cutmix_alpha, label_smoothing,
            seed: as in `fine_tune`.

    Returns:
        `(dataset, examples, steps_per_epoch)`: a `tf.data.Dataset` of
        `((B, H, W, C) images, (B, num_classes) soft labels)`, the examples
        in one epoch and the steps per epoch for `fit` (`None`: one pass).
    """
    dataset, count, steps_per_epoch = _to_dataset(train, batch_size, True, seed)
    dataset = mix_batches(dataset, num_classes, mixup_alpha, cutmix_alpha, label_smoothing, seed)
    dataset = dataset.prefetch(4)
    return dataset, count, steps_per_epoch


def fine_tune(encoder, train, test, num_classes, *, epochs=10, batch_size=128, learning_rate=1e-3,
              warmup_epochs=1, weight_decay=0.05, layer_decay=0.75, drop_path_rate=0.1,
              mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.1, seed=0, verbose="auto",
              callbacks=()):
    """Fine-tune `encoder` with a new head and report test accuracy.

    Recipe (MAE fine-tuning, scaled down): AdamW with layer-wise rate decay,
    warm-up + cosine, drop path, MixUp / CutMix, label smoothing.

    Args:
        encoder: pretrained `ViTEncoder` (copied; not modified).
        train, test: `(images, labels)` arrays (normalised images `(N, H, W, C)`)
            or batched labelled `tf.data.Dataset`s (of known length, or
            carrying `batches_per_epoch` like `from_image_folder`'s).
            Arrays are used as they are (shuffled, no crop or flip); for
            crops and flips pass `data.from_arrays(images, labels,
            training=True)` instead. MixUp / CutMix apply to both.
        num_classes: classes (≥ 2).
        epochs, batch_size: training length and batch.
        learning_rate: base rate, scaled by `batch_size / 256`.
        warmup_epochs, weight_decay, layer_decay, drop_path_rate: the recipe.
        mixup_alpha, cutmix_alpha: 0 turns either off.
        label_smoothing: in [0, 1).
        seed: initialisation, order and augmentation (MixUp / CutMix are
            drawn from it per batch, so a rerun repeats them exactly).
        verbose: passed to `fit`.
        callbacks: more Keras callbacks.

    Returns:
        `FineTuneResult(accuracy, model, history)`.
    """
    validation.check_int("num_classes", num_classes, minimum=2)
    for name, split in (("train labels", train), ("test labels", test)):
        if labels_of(split) is not None:
            check_labels(labels_of(split), num_classes, name)
    validation.check_int("epochs", epochs, minimum=1)
    validation.check_int("batch_size", batch_size, minimum=1)
    validation.check_float("mixup_alpha", mixup_alpha, 0.0)
    validation.check_float("cutmix_alpha", cutmix_alpha, 0.0)
    validation.check_float("label_smoothing", label_smoothing, 0.0, 1.0, high_open=True)
    keras.utils.set_random_seed(seed)
    train_data, count, steps_per_epoch = training_batches(
        train, num_classes, batch_size, mixup_alpha, cutmix_alpha, label_smoothing, seed)
    test_data, _, _ = _to_dataset(test, batch_size, False, seed)
    test_data = mix_batches(test_data, num_classes, 0.0, 0.0, 0.0, seed)
    steps = max(count // batch_size, 1)
    schedule = warmup_cosine_schedule(
        scaled_learning_rate(learning_rate, batch_size), epochs * steps, round(warmup_epochs * steps)
    )
    optimizer = LayerwiseDecayAdamW(
        depth=encoder.depth, layer_decay=layer_decay, learning_rate=schedule,
        weight_decay=weight_decay, beta_2=0.999,
    )
    optimizer.exclude_from_weight_decay(var_names=NO_WEIGHT_DECAY)
    model = build_classifier(encoder, num_classes, drop_path_rate=drop_path_rate)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    )
    history = model.fit(train_data, epochs=epochs, steps_per_epoch=steps_per_epoch,
                        validation_data=test_data, shuffle=False, callbacks=list(callbacks),
                        verbose=verbose)
    accuracy = model.evaluate(test_data, verbose=0, return_dict=True)["accuracy"]
    return FineTuneResult(float(accuracy), model, history)
