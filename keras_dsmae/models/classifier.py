"""Image classifier built from a pretrained `ViTEncoder`, for fine-tuning."""

import keras

from keras_dsmae.models.vit_encoder import ViTEncoder
from keras_dsmae.utils import validation


def build_classifier(encoder, num_classes, drop_path_rate=0.1, dropout_rate=0.0, name="vit_classifier"):
    """`(B, H, W, C)` images → `(B, num_classes)` logits, as MAE fine-tunes:
    mean of the patch tokens → LayerNorm → Dense head (small init).

    The encoder is rebuilt from its config with `drop_path_rate` (stochastic
    depth, linearly increasing over blocks) and `pooling="mean"`, then given
    the pretrained weights; the original is left untouched.

    Args:
        encoder: a (pretrained) `ViTEncoder`.
        num_classes: output classes (≥ 2).
        drop_path_rate: stochastic depth of the last block, in [0, 1).
        dropout_rate: dropout before the head, in [0, 1).

    Returns:
        A functional `keras.Model` (serialisable with `model.save`).
    """
    if not isinstance(encoder, ViTEncoder):
        raise ValueError(f"`encoder` must be a keras_dsmae.ViTEncoder; got {type(encoder).__name__}.")
    validation.check_int("num_classes", num_classes, minimum=2)
    validation.check_float("drop_path_rate", drop_path_rate, 0.0, 1.0, high_open=True)
    validation.check_float("dropout_rate", dropout_rate, 0.0, 1.0, high_open=True)
    input_shape = (None, *encoder.image_size, encoder.num_channels)
    if not encoder.built:
        encoder.build(input_shape)
    config = {**encoder.get_config(), "drop_path_rate": drop_path_rate, "pooling": "mean", "name": "encoder"}
    backbone = ViTEncoder.from_config(config)
    backbone.build(input_shape)
    backbone.set_weights(encoder.get_weights())
    inputs = keras.Input((*encoder.image_size, encoder.num_channels), name="images")
    features = backbone(inputs)
    features = keras.layers.LayerNormalization(epsilon=1e-6, name="head_norm")(features)
    if dropout_rate:
        features = keras.layers.Dropout(dropout_rate, name="head_dropout")(features)
    logits = keras.layers.Dense(
        num_classes,
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=2e-5),
        dtype="float32",
        name="head",
    )(features)
    return keras.Model(inputs, logits, name=name)
