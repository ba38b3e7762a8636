"""The loss functions of DSD-MAE, pure and stateless. All are computed in
float32, whatever the mixed-precision policy of the model that produced the
inputs."""

from keras import ops

from keras_dsmae.utils.token_math import l2_normalize, standardize_tokens, token_statistics

FEATURE_LOSSES = ("cosine", "mse", "smooth_l1")
# The per-patch variance of `norm_pix_loss` targets: "unbiased" (÷(P−1), torch's
# `.var` in facebookresearch/mae and transformers; the default) or "biased" (÷P,
# keras_dsmae 0.2, which its files keep).
PIXEL_VARIANCES = ("unbiased", "biased")
RELEASE_0_2_VARIANCE = "biased"


def _f32(x):
    return ops.cast(x, "float32")


def normalize_tokens(tokens, epsilon=1e-6):
    """Per-token LayerNorm without affine parameters, in float32.

    Args:
        tokens: `(..., D)`.

    Returns:
        `(..., D)` float32, zero mean and unit variance over `D`.
    """
    return standardize_tokens(_f32(tokens), epsilon)


def pixel_target_statistics(patches, norm_pix_variance="unbiased"):
    """Per-patch mean and `sqrt(variance + 1e-6)` of `norm_pix_loss`, in float32.

    Args:
        patches: `(..., P)` clean patch values.
        norm_pix_variance: `"unbiased"` (the reference MAE's) or `"biased"`.

    Returns:
        `(mean, std)`, each `(..., 1)` float32.
    """
    return token_statistics(_f32(patches), 1e-6, unbiased=norm_pix_variance == "unbiased")


def pixel_reconstruction_loss(predicted, target, weights, norm_pix_loss=False, norm_pix_variance="unbiased"):
    """Mean squared error per patch, averaged with per-patch weights: with
    the defaults and masked-patch weights, facebookresearch/mae's
    `forward_loss` exactly.

    Args:
        predicted: `(B, N, P)` predicted patch values.
        target: `(B, N, P)` clean patch values.
        weights: `(B, N)`; 1 for patches that count (the masked ones in MAE),
            0 for the others.
        norm_pix_loss: normalise each target patch to zero mean and unit
            variance first (MAE's `norm_pix_loss`).
        norm_pix_variance: the variance of that normalisation,
            `"unbiased"` (÷(P−1), the reference's) or `"biased"` (÷P,
            keras_dsmae 0.2's).

    Returns:
        Scalar float32.
    """
    predicted, target, weights = _f32(predicted), _f32(target), _f32(weights)
    if norm_pix_loss:
        mean, std = pixel_target_statistics(target, norm_pix_variance)
        target = (target - mean) / std
    per_patch = ops.mean(ops.square(predicted - target), axis=-1)
    return ops.sum(per_patch * weights) / ops.maximum(ops.sum(weights), 1.0)


def feature_distillation_loss(predicted, target, kind="cosine"):
    """Distance between student predictions and (normalised) teacher features.

    Args:
        predicted: `(B, M, D)` student predictions at the masked positions.
        target: `(B, M, D)` teacher features at the same positions.
        kind: `"cosine"` (1 - cosine similarity), `"mse"` or `"smooth_l1"`
            (Huber with beta 1), each averaged over tokens.

    Returns:
        Scalar float32.
    """
    predicted, target = _f32(predicted), _f32(target)
    if kind == "cosine":
        cosine = ops.sum(l2_normalize(predicted) * l2_normalize(target), axis=-1)
        return ops.mean(1.0 - cosine)
    difference = predicted - target
    if kind == "mse":
        return ops.mean(ops.square(difference))
    if kind == "smooth_l1":
        absolute = ops.abs(difference)
        return ops.mean(
            ops.where(absolute < 1.0, 0.5 * ops.square(difference), absolute - 0.5)
        )
    raise ValueError(
        f"`feature_loss` must be one of {FEATURE_LOSSES}; got feature_loss={kind!r}."
    )


def info_nce_loss(first, second, temperature):
    """Symmetric InfoNCE between two views; matching rows are positives.

    Args:
        first, second: `(B, D)` embeddings of the two views of each image.
        temperature: softmax temperature, > 0.

    Returns:
        Scalar float32, `log(B)` for uninformative embeddings, 0 at best.
    """
    first, second = l2_normalize(_f32(first)), l2_normalize(_f32(second))
    logits = ops.matmul(first, ops.transpose(second)) / temperature
    labels = ops.arange(ops.shape(logits)[0])
    forward = ops.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    backward = ops.sparse_categorical_crossentropy(
        labels, ops.transpose(logits), from_logits=True
    )
    return 0.5 * (ops.mean(forward) + ops.mean(backward))
