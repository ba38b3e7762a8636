"""The two places where a backend's own fused kernel replaces `keras.ops`.

Each function has one reference written in `keras.ops` (used on every
backend where the fused kernel did not measure faster) and one fused path,
chosen by backend. `tests/utils/test_backend_kernels.py` checks that both paths
agree within float32 tolerance, values and gradients; what each path bought
is in benchmarks/README.md, "Training speed" (`benchmarks/peer_throughput.py`).

- `self_attention`: on PyTorch, `torch.nn.functional.scaled_dot_product_attention`
  (one fused kernel, forward and backward: 2.2× faster than the reference for
  ViT-Tiny's 17-token encoder attention on a 2-core CPU). On JAX and
  TensorFlow the fused `keras.ops.dot_product_attention` measured slower on
  the CPU (JAX up to 1.9×), so they keep the reference.
- `moving_average`: on PyTorch one `torch._foreach_lerp_` over all
  teacher weights instead of ~150 separate multiply-add-assign ops from
  Python; on JAX and TensorFlow the loop is traced once and fused by XLA /
  Grappler inside the compiled step anyway.
"""

import keras
from keras import ops


def _torch_fused():
    return keras.backend.backend() == "torch"


def reference_self_attention(query, key, value):
    """Softmax attention in `keras.ops`, the softmax in float32.

    Args:
        query, key, value: `(B, H, T, Dh)`, any float dtype.

    Returns:
        `(B, H, T, Dh)` in the dtype of `value`.
    """
    scale = ops.cast(query.shape[-1] ** -0.5, query.dtype)
    scores = ops.matmul(query * scale, ops.transpose(key, (0, 1, 3, 2)))
    weights = ops.softmax(ops.cast(scores, "float32"), axis=-1)
    return ops.matmul(ops.cast(weights, value.dtype), value)


def self_attention(query, key, value):
    """Scaled dot-product attention, fused where that pays (see module doc).

    PyTorch's fused kernel accumulates the softmax in float32 for bfloat16
    and float16 inputs, as the reference does.

    Args:
        query, key, value: `(B, H, T, Dh)`, one float dtype.

    Returns:
        `(B, H, T, Dh)`.
    """
    if _torch_fused():
        import torch

        return torch.nn.functional.scaled_dot_product_attention(query, key, value)
    return reference_self_attention(query, key, value)


def reference_moving_average(targets, sources, momentum):
    """`t ← m·t + (1 − m)·s` for each pair, in float32, in `keras.ops`.

    Args:
        targets: list of float32 `keras.Variable` to update in place.
        sources: list of `keras.Variable` of the same shapes (no gradient
            flows through them).
        momentum: scalar tensor `m` in [0, 1].
    """
    for target, source in zip(targets, sources):
        source = ops.stop_gradient(ops.cast(source.value, "float32"))
        current = ops.cast(target.value, "float32")
        target.assign(momentum * current + (1.0 - momentum) * source)


def moving_average(targets, sources, momentum):
    """The EMA step `t ← m·t + (1 − m)·s` for each pair (on PyTorch as one
    `t ← t + (1 − m)·(s − t)` over all pairs; equal within float32 rounding).

    Args:
        targets: list of float32 `keras.Variable` (not trainable) to update.
        sources: list of `keras.Variable` of the same shapes.
        momentum: scalar tensor `m` in [0, 1].
    """
    if _torch_fused():
        import torch

        # `.value` is the variable's own storage unless an autocast scope
        # hands out a cast copy; an in-place update of a copy would be lost.
        target_values = [t.value for t in targets]
        if all(v.dtype == torch.float32 and v is t._value for v, t in zip(target_values, targets)):
            with torch.no_grad():
                weight = 1.0 - ops.cast(momentum, "float32")
                sources = [ops.cast(s.value, "float32").detach() for s in sources]
                torch._foreach_lerp_(target_values, sources, [weight] * len(targets))
            return
    reference_moving_average(targets, sources, momentum)
