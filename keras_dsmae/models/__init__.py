"""Models: the ViT encoder, the masked decoder and DSMAE itself."""

from keras_dsmae.models.decoder import MaskedDecoder
from keras_dsmae.models.dsmae import DSMAE
from keras_dsmae.models.vit_encoder import ViTEncoder

__all__ = ["DSMAE", "MaskedDecoder", "ViTEncoder"]
