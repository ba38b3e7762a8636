"""keras_dsmae: Denoising Self-Distillation Masked Autoencoders for Keras 3.

Runs on the TensorFlow, JAX and PyTorch backends (`KERAS_BACKEND`).
"""

from keras_dsmae import callbacks, data, evaluation, layers, losses, models, optimizers, presets
from keras_dsmae.models import DSMAE, EMATeacher, MaskedDecoder, ViTEncoder, build_classifier
from keras_dsmae.version import __version__

__all__ = [
    "DSMAE",
    "EMATeacher",
    "MaskedDecoder",
    "ViTEncoder",
    "build_classifier",
    "__version__",
    "callbacks",
    "data",
    "evaluation",
    "layers",
    "losses",
    "models",
    "optimizers",
    "presets",
]
