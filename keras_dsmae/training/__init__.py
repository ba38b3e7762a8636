"""The pretraining job: its settings (`PretrainingConfig`), precision,
distribution, run record, and `run_pretraining` (the job behind
`keras-dsmae-pretrain` and `examples/pretrain_*.py`)."""

from keras_dsmae.optimizers.pretraining import pretraining_optimizer, scaled_learning_rate
from keras_dsmae.training.precision import resolve_precision
from keras_dsmae.training.pretrain import run_pretraining
from keras_dsmae.training.pretraining_config import PretrainingConfig

__all__ = ["PretrainingConfig", "pretraining_optimizer", "resolve_precision", "run_pretraining", "scaled_learning_rate"]
