"""AdamW with layer-wise learning-rate decay (BEiT / MAE fine-tuning)."""

import re

import keras

from keras_dsmae.utils import validation

_BLOCK = re.compile(r"block_(\d+)/")
_EMBEDDING = ("patch_embedding", "position_embedding", "cls_token")


def layer_index(variable_path, depth):
    """Depth position of a ViT classifier variable: 0 for the patch/position
    embeddings and class token, `i + 1` for transformer block `i`, `depth + 1`
    for everything after the blocks (final norm, head)."""
    match = _BLOCK.search(variable_path)
    if match:
        return int(match.group(1)) + 1
    if any(name in variable_path for name in _EMBEDDING):
        return 0
    return depth + 1


@keras.saving.register_keras_serializable(package="keras_dsmae")
class LayerwiseDecayAdamW(keras.optimizers.AdamW):
    """AdamW whose learning rate for a variable at depth `j` (see
    `layer_index`) is multiplied by `layer_decay ** (depth + 1 - j)`: the head
    learns at the full rate, early blocks much slower.

    Args:
        depth: number of transformer blocks of the encoder.
        layer_decay: per-layer factor in (0, 1]; 1 disables the decay.
        **kwargs: `keras.optimizers.AdamW` arguments.
    """

    def __init__(self, depth, layer_decay=0.75, **kwargs):
        super().__init__(**kwargs)
        self.depth = validation.check_int("depth", depth, minimum=1)
        self.layer_decay = validation.check_float("layer_decay", layer_decay, 0.0, 1.0, low_open=True)

    def build(self, variables):
        super().build(variables)
        self._learning_rate_scales = [
            self.layer_decay ** (self.depth + 1 - layer_index(v.path, self.depth)) for v in variables
        ]

    def learning_rate_scale(self, variable):
        """The multiplier this optimizer applies to `variable`'s rate."""
        return self._learning_rate_scales[self._get_variable_index(variable)]

    def update_step(self, gradient, variable, learning_rate):
        scaled = keras.ops.multiply(learning_rate, self.learning_rate_scale(variable))
        super().update_step(gradient, variable, scaled)

    def get_config(self):
        return {**super().get_config(), "depth": self.depth, "layer_decay": self.layer_decay}
