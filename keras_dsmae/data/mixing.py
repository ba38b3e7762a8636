"""MixUp and CutMix for labelled batches (the fine-tuning recipe).

TensorFlow ops for the tf.data input side, drawn from stateless per-batch
seeds: a seed fixes every epoch's mixing, whatever iterators were opened,
abandoned or prefetched before (Keras' `MixUp` / `CutMix` layers keep their
random state in a variable that every iterator of the dataset advances, so
their draws depend on how far earlier iterators ran ahead).
"""

import tensorflow as tf

from keras_dsmae.data.augmentation import seed_stream
from keras_dsmae.utils import validation


def mixing_augmentation(num_classes, mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.1):
    """A batch map `(images, int labels, seed) → (images, soft labels)`.

    Each batch gets MixUp or CutMix (each with probability ½ when both are
    on, as in the MAE / DeiT fine-tuning recipe) with a random partner per
    image (a permutation of the batch), then label smoothing.

    Args:
        num_classes: classes (≥ 2); labels must be in `[0, num_classes)`.
        mixup_alpha: Beta(α, α) of the MixUp weight; 0 turns MixUp off.
        cutmix_alpha: Beta(α, α) of the kept area of CutMix; 0 turns it off.
        label_smoothing: in [0, 1).

    Returns:
        `augment(images, labels, seed)`:
        images `(B, H, W, C)` float, labels `(B,)` or `(B, 1)` int,
        seed `(2,)` int → `((B, H, W, C) images, (B, num_classes) float32
        labels that sum to 1)`. The same seed gives the same result.
    """
    validation.check_int("num_classes", num_classes, minimum=2)
    validation.check_float("mixup_alpha", mixup_alpha, 0.0)
    validation.check_float("cutmix_alpha", cutmix_alpha, 0.0)
    validation.check_float("label_smoothing", label_smoothing, 0.0, 1.0, high_open=True)
    mixers = []
    if mixup_alpha > 0:
        mixers.append(lambda images, partners, seed: _mixup(images, partners, mixup_alpha, seed))
    if cutmix_alpha > 0:
        mixers.append(lambda images, partners, seed: _cutmix(images, partners, cutmix_alpha, seed))

    def smooth(labels):
        return labels * (1.0 - label_smoothing) + label_smoothing / num_classes

    def augment(images, labels, seed):
        labels = tf.one_hot(_checked_labels(labels, num_classes), num_classes)
        if not mixers:
            return images, smooth(labels)
        choice_seed, order_seed, mixer_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
        order = tf.argsort(tf.random.stateless_uniform(tf.shape(images)[:1], order_seed))
        partners = tf.gather(images, order)
        if len(mixers) == 1:
            images, kept = mixers[0](images, partners, mixer_seed)
        else:
            images, kept = tf.cond(
                tf.random.stateless_uniform([], choice_seed) < 0.5,
                lambda: mixers[0](images, partners, mixer_seed),
                lambda: mixers[1](images, partners, mixer_seed),
            )
        labels = kept[:, None] * labels + (1.0 - kept[:, None]) * tf.gather(labels, order)
        return images, smooth(labels)

    return augment


def mix_batches(dataset, num_classes, mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.1, seed=None):
    """Apply `mixing_augmentation` to a batched `(images, int labels)`
    dataset, one stateless seed per batch.

    Args:
        dataset: `tf.data.Dataset` of `((B, H, W, C) images, (B,) labels)`.
        num_classes, mixup_alpha, cutmix_alpha, label_smoothing: see
            `mixing_augmentation`.
        seed: fixes the mixing of every epoch (each new iterator, i.e. each
            epoch, draws new seeds from it); `None`: not reproducible.

    Returns:
        `tf.data.Dataset` of `((B, H, W, C) images, (B, num_classes) soft
        labels)`, as many batches as `dataset`.
    """
    validation.check_seed("seed", seed)
    augment = mixing_augmentation(num_classes, mixup_alpha, cutmix_alpha, label_smoothing)
    batches = tf.data.Dataset.zip((dataset, seed_stream(seed)))
    return batches.map(lambda batch, batch_seed: augment(*batch, batch_seed),
                       num_parallel_calls=tf.data.AUTOTUNE)


def _checked_labels(labels, num_classes):
    labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
    tf.debugging.assert_less(labels, num_classes,
                             message=f"fine-tuning labels must be < num_classes={num_classes}")
    tf.debugging.assert_non_negative(labels, message="fine-tuning labels must be >= 0")
    return labels


def _beta(count, alpha, seed):
    """`(count,)` float32 draws of Beta(alpha, alpha), from two gammas."""
    seeds = tf.random.experimental.stateless_split(seed, 2)
    first = tf.random.stateless_gamma([count], seeds[0], alpha)
    second = tf.random.stateless_gamma([count], seeds[1], alpha)
    return tf.math.divide_no_nan(first, first + second)


def _mixup(images, partners, alpha, seed):
    """Blend each image with its partner; returns `(images, (B,) weight of the image)`."""
    kept = _beta(tf.shape(images)[0], alpha, seed)
    weights = tf.cast(tf.reshape(kept, [-1, 1, 1, 1]), images.dtype)
    return weights * images + (1.0 - weights) * partners, kept


def _cutmix(images, partners, alpha, seed):
    """Paste a box of each partner into its image (box area ≈ 1 − Beta(α, α)
    draw, clipped at the borders); returns `(images, (B,) kept area fraction)`."""
    batch, height, width = tf.unstack(tf.shape(images)[:3])
    beta_seed, row_seed, column_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    side = tf.sqrt(1.0 - _beta(batch, alpha, beta_seed))  # box side as a fraction of the image's

    def span(size, span_seed):
        length = tf.cast(tf.round(side * tf.cast(size, tf.float32)), tf.int32)
        centre = tf.random.stateless_uniform([batch], span_seed, 0, size, dtype=tf.int32)
        start = centre - length // 2
        positions = tf.range(size)[None, :]
        return (positions >= tf.maximum(start, 0)[:, None]) & (positions < tf.minimum(start + length, size)[:, None])

    box = span(height, row_seed)[:, :, None] & span(width, column_seed)[:, None, :]  # (B, H, W)
    images = tf.where(box[..., None], partners, images)
    pasted = tf.reduce_mean(tf.cast(box, tf.float32), axis=[1, 2])
    return images, 1.0 - pasted
