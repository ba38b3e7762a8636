"""The pretraining job: optimizer, precision, the shared example script."""

from keras_dsmae.training.optimizer import pretraining_optimizer, scaled_learning_rate
from keras_dsmae.training.precision import resolve_precision
from keras_dsmae.training.pretrain import run_pretraining

__all__ = ["pretraining_optimizer", "resolve_precision", "run_pretraining", "scaled_learning_rate"]
