"""The pretraining job: precision, run configuration, and `run_pretraining`
(the job behind `examples/pretrain_*.py`)."""

from keras_dsmae.optimizers.pretraining import pretraining_optimizer, scaled_learning_rate
from keras_dsmae.training.precision import resolve_precision
from keras_dsmae.training.pretrain import run_pretraining

__all__ = ["pretraining_optimizer", "resolve_precision", "run_pretraining", "scaled_learning_rate"]
