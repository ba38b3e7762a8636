"""Keras callbacks for DSD-MAE pretraining."""

from keras_dsmae.callbacks.teacher_ema import TeacherEMA

__all__ = ["TeacherEMA"]
