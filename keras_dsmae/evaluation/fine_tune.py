"""End-to-end fine-tuning of a pretrained encoder (MAE recipe, scaled down)."""

import dataclasses

import keras
import numpy as np

from keras_dsmae.data.cardinality import batches_per_epoch
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


def mixing_augmentation(num_classes, mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.1, seed=None):
    """A `tf.data` batch map `(images, int labels) → (images, soft labels)`
    that applies MixUp or CutMix (each with probability ½ when both are on)
    and label smoothing. Uses Keras core `MixUp` / `CutMix`, so it runs in a
    `tf.data` pipeline whatever the backend."""
    import tensorflow as tf

    mixers = []
    if mixup_alpha > 0:
        mixers.append(keras.layers.MixUp(alpha=mixup_alpha, seed=seed))
    if cutmix_alpha > 0:
        mixers.append(keras.layers.CutMix(factor=cutmix_alpha, seed=seed))

    def smooth(labels):
        return labels * (1.0 - label_smoothing) + label_smoothing / num_classes

    def augment(images, labels):
        labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
        tf.debugging.assert_less(
            labels, num_classes,
            message=f"fine-tuning labels must be < num_classes={num_classes}")
        tf.debugging.assert_non_negative(labels, message="fine-tuning labels must be >= 0")
        labels = tf.one_hot(labels, num_classes)
        if not mixers:
            return images, smooth(labels)
        batch = {"images": images, "labels": labels}
        if len(mixers) == 1:
            mixed = mixers[0](batch)
        else:
            mixed = tf.cond(tf.random.uniform([], seed=seed) < 0.5,
                            lambda: mixers[0](batch), lambda: mixers[1](batch))
        return mixed["images"], smooth(tf.cast(mixed["labels"], tf.float32))

    return augment


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
    dataset = dataset.map(
        mixing_augmentation(num_classes, mixup_alpha, cutmix_alpha, label_smoothing, seed)
    ).prefetch(4)
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
        seed: initialisation, order and augmentation.
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
    test_data = test_data.map(mixing_augmentation(num_classes, 0.0, 0.0, 0.0))
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
