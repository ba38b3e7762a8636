"""Models: the ViT encoder, the masked decoder, the EMA teacher, the
teacher-target strategies, DSMAE and its parts (`dsmae_parts`: built from
flat names or handed in), the knob table, the fine-tuning classifier, and
the layouts other libraries read (`hf_vit`: Hugging Face ViT; `hf_vit_mae`:
ViTMAE, both ways; `timm_vit`: timm's VisionTransformer)."""

from keras_dsmae.models.classifier import build_classifier
from keras_dsmae.models.decoder import MaskedDecoder
from keras_dsmae.models.device_input import DeviceInput
from keras_dsmae.models.dsmae import DSMAE
from keras_dsmae.models.ema_teacher import EMATeacher
from keras_dsmae.models.teacher_targets import (
    TEACHER_TARGETS,
    FullImageTarget,
    LayerAverageTarget,
    MaskedFoldsTarget,
    TeacherTarget,
    register_teacher_target,
)
from keras_dsmae.models.vit_encoder import ViTEncoder

__all__ = [
    "DSMAE",
    "DeviceInput",
    "EMATeacher",
    "FullImageTarget",
    "LayerAverageTarget",
    "MaskedDecoder",
    "MaskedFoldsTarget",
    "TEACHER_TARGETS",
    "TeacherTarget",
    "ViTEncoder",
    "build_classifier",
    "register_teacher_target",
]
