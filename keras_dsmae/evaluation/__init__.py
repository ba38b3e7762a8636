"""Representation quality: kNN accuracy, linear probe, fine-tuning."""

from keras_dsmae.data.mixing import mixing_augmentation
from keras_dsmae.evaluation.features import extract_features
from keras_dsmae.evaluation.fine_tune import FineTuneResult, fine_tune
from keras_dsmae.evaluation.knn import knn_accuracy, knn_predict
from keras_dsmae.evaluation.linear_probe import linear_probe

__all__ = [
    "FineTuneResult",
    "extract_features",
    "fine_tune",
    "knn_accuracy",
    "knn_predict",
    "linear_probe",
    "mixing_augmentation",
]
