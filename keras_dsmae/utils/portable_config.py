"""Compile configs that load on any backend.

Keras records an optimizer by the module of its class, and on the torch and
TensorFlow backends that is a backend-specific subclass (e.g.
`keras.src.backend.torch.optimizers.torch_adamw`). A `.keras` file saved on
one backend then rebuilds the other backend's optimizer on load and fails in
`fit`. Pointing such entries at the public `keras.optimizers` module makes
each backend pick its own class.
"""

BACKEND_MODULE_PREFIX = "keras.src.backend."
PUBLIC_OPTIMIZERS = "keras.optimizers"


def portable_compile_config(config):
    """A copy of a (nested) compile config whose backend-specific optimizer
    modules are replaced by `keras.optimizers`."""
    if isinstance(config, dict):
        portable = {key: portable_compile_config(value) for key, value in config.items()}
        module = portable.get("module")
        if isinstance(module, str) and module.startswith(BACKEND_MODULE_PREFIX) and ".optimizers" in module:
            portable["module"] = PUBLIC_OPTIMIZERS
        return portable
    if isinstance(config, list):
        return [portable_compile_config(value) for value in config]
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
