"""Choosing and applying the mixed-precision dtype policy."""

import keras

PRECISIONS = ("auto", "float32", "bfloat16", "float16")
_POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


# x86 CPU flags (as /proc/cpuinfo names them) of native bfloat16 arithmetic.
CPU_BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")
CPUINFO_PATH = "/proc/cpuinfo"


def gpu_supports_bfloat16():
    """None when the current backend runs on no GPU; else True when its GPU
    has fast bfloat16 (NVIDIA compute capability 8.0 or newer)."""
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        if not torch.cuda.is_available():
            return None
        return bool(torch.cuda.is_bf16_supported())
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        if device.platform != "gpu":
            return None
        return float(getattr(device, "compute_capability", "0")) >= 8.0
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return None
    return any(
        tf.config.experimental.get_device_details(gpu).get("compute_capability", (0, 0)) >= (8, 0)
        for gpu in gpus
    )


def cpu_supports_bfloat16(cpuinfo_path=None):
    """True when the CPU advertises native bfloat16 arithmetic (one of
    `CPU_BFLOAT16_FLAGS` in `cpuinfo_path`, default `CPUINFO_PATH`); False
    where that file is missing (not Linux) or names neither."""
    try:
        with open(cpuinfo_path or CPUINFO_PATH) as file:
            flags = set(file.read().split())
    except OSError:
        return False
    return any(flag in flags for flag in CPU_BFLOAT16_FLAGS)


def resolve_precision(precision, resumed_policy=None):
    """The Keras dtype policy name for `precision`.

    `"auto"` is, in this order: the policy of the run being resumed
    (`resumed_policy`), so that a run continues in the precision it started
    with; `mixed_bfloat16` on a GPU that supports bfloat16, `float32` on
    another GPU; `mixed_bfloat16` on a CPU with native bfloat16 (AVX512-BF16
    or AMX-BF16: 1.1–1.3× faster on every backend, same Fashion-MNIST
    quality, see benchmarks/README.md, "Training speed"), `float32` on other CPUs.
    `"float16"` is `mixed_float16`; `Model.compile` then wraps the
    optimizer in a `LossScaleOptimizer`.
    """
    if precision not in PRECISIONS:
        raise ValueError(
            f"`mixed_precision` must be one of {PRECISIONS}; got "
            f"mixed_precision={precision!r}."
        )
    if precision == "auto":
        if resumed_policy is not None:
            return resumed_policy
        on_gpu = gpu_supports_bfloat16()
        fast_bfloat16 = cpu_supports_bfloat16() if on_gpu is None else on_gpu
        return "mixed_bfloat16" if fast_bfloat16 else "float32"
    return _POLICIES[precision]
