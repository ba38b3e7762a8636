"""Choosing and applying the mixed-precision dtype policy."""

import keras

PRECISIONS = ("auto", "float32", "bfloat16", "float16")
_POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


def accelerator_supports_bfloat16():
    """True when the current backend runs on a GPU with fast bfloat16
    (NVIDIA compute capability 8.0 or newer)."""
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        if device.platform != "gpu":
            return False
        capability = getattr(device, "compute_capability", "0")
        return float(capability) >= 8.0
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        if details.get("compute_capability", (0, 0)) >= (8, 0):
            return True
    return False


def resolve_precision(precision):
    """The Keras dtype policy name for `precision`.

    `"auto"` is `mixed_bfloat16` on a GPU that supports bfloat16 and
    `float32` otherwise (on CPUs mixed precision is slower, not faster).
    `"float16"` is `mixed_float16`; `Model.compile` then wraps the
    optimizer in a `LossScaleOptimizer`.
    """
    if precision not in PRECISIONS:
        raise ValueError(
            f"`mixed_precision` must be one of {PRECISIONS}; got "
            f"mixed_precision={precision!r}."
        )
    if precision == "auto":
        return "mixed_bfloat16" if accelerator_supports_bfloat16() else "float32"
    return _POLICIES[precision]
