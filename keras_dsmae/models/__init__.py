"""Models: the ViT encoder, the masked decoder, DSMAE itself and the
fine-tuning classifier."""

from keras_dsmae.models.classifier import build_classifier
from keras_dsmae.models.decoder import MaskedDecoder
from keras_dsmae.models.dsmae import DSMAE
from keras_dsmae.models.vit_encoder import ViTEncoder

__all__ = ["DSMAE", "MaskedDecoder", "ViTEncoder", "build_classifier"]
