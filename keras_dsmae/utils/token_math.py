"""Per-token arithmetic shared by the models, the losses and evaluation.

All functions take backend tensors or numpy arrays and return backend
tensors (`keras.ops`), in the input's float dtype.
"""

from keras import ops


def token_statistics(tokens, epsilon=1e-6, unbiased=False):
    """Mean and standard deviation over the last axis.

    Args:
        tokens: `(..., D)` floats.
        epsilon: added to the variance before the square root.
        unbiased: divide the squared deviations by `D - 1` (torch's
            `.var`, MAE's `norm_pix_loss`) instead of `D` (LayerNorm's).

    Returns:
        `(mean, std)`, each `(..., 1)`.
    """
    mean = ops.mean(tokens, axis=-1, keepdims=True)
    variance = ops.var(tokens, axis=-1, keepdims=True)
    if unbiased:
        size = tokens.shape[-1]
        variance = variance * (size / (size - 1))
    return mean, ops.sqrt(variance + epsilon)


def standardize_tokens(tokens, epsilon=1e-6):
    """LayerNorm without affine parameters over the last axis (the
    per-token target normalisation of MAE's `norm_pix_loss`, SdAE and
    data2vec). `(..., D)` → `(..., D)`."""
    mean, std = token_statistics(tokens, epsilon)
    return (tokens - mean) / std


def l2_normalize(x, epsilon=1e-6):
    """`x / max(‖x‖, epsilon)` over the last axis. `(..., D)` → `(..., D)`."""
    squared_norm = ops.sum(ops.square(x), axis=-1, keepdims=True)
    return x / ops.sqrt(ops.maximum(squared_norm, epsilon**2))


def mean_pool(tokens, num_prefix_tokens=0):
    """Mean of the patch tokens, skipping class-like prefix tokens.

    Args:
        tokens: `(B, T, D)` encoder outputs, prefix tokens first.
        num_prefix_tokens: how many leading tokens to skip.

    Returns:
        `(B, D)`.
    """
    return ops.mean(tokens[:, num_prefix_tokens:], axis=1)


def spread_across_tokens(tokens):
    """Standard deviation of each feature across all tokens, averaged over
    features: data2vec's collapse check (0 when every token is the same).

    Args:
        tokens: `(B, M, D)` or `(B, D)` floats.

    Returns:
        float32 scalar.
    """
    flat = ops.reshape(ops.cast(tokens, "float32"), (-1, ops.shape(tokens)[-1]))
    return ops.mean(ops.sqrt(ops.var(flat, axis=0) + 1e-6))
