"""Compile configs that load on any backend.

Keras records an optimizer by the module of its class, and on the torch and
TensorFlow backends that is a backend-specific subclass (e.g.
`keras.src.backend.torch.optimizers.torch_adamw`). A `.keras` file saved on
one backend then rebuilds the other backend's optimizer on load and fails in
`fit`. Pointing such entries at the public `keras.optimizers` module makes
each backend pick its own class.

`jit_compile` is made `"auto"` too. Keras records the value it resolved
on the saving backend (always True on JAX), so a file saved there would
otherwise make a PyTorch load `torch.compile` the step, which takes
minutes on a CPU (see benchmarks/README.md, "Feeding the accelerator"), and a file saved
on PyTorch would run JAX uncompiled. Each backend makes its own choice; a
loaded model can be compiled again with `jit_compile=True` to force it.
"""

BACKEND_MODULE_PREFIX = "keras.src.backend."
PUBLIC_OPTIMIZERS = "keras.optimizers"


def portable_compile_config(config):
    """A copy of a compile config whose backend-specific optimizer modules
    are replaced by `keras.optimizers`, and whose `jit_compile` is "auto"."""
    portable = _public_optimizers(config)
    if isinstance(portable, dict) and "jit_compile" in portable:
        portable["jit_compile"] = "auto"
    return portable


def _public_optimizers(config):
    if isinstance(config, dict):
        portable = {key: _public_optimizers(value) for key, value in config.items()}
        module = portable.get("module")
        if isinstance(module, str) and module.startswith(BACKEND_MODULE_PREFIX) and ".optimizers" in module:
            portable["module"] = PUBLIC_OPTIMIZERS
        return portable
    if isinstance(config, list):
        return [_public_optimizers(value) for value in config]
    return config


class PortableCompileConfig:
    """Mixin for a `keras.Model` whose `.keras` files, saved compiled on one
    backend, load and train on any other (see the module docstring)."""

    def get_compile_config(self):
        config = super().get_compile_config()
        return None if config is None else portable_compile_config(config)

    def compile_from_config(self, config):
        """Compile from a saved config; the optimizer is rebuilt for this
        backend even when the file was saved on another one."""
        return super().compile_from_config(portable_compile_config(config))
