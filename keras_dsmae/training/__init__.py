"""The pretraining job: its settings (`PretrainingConfig`), precision,
distribution, run record, `run_pretraining` (the job behind
`keras-dsmae-pretrain` and `examples/pretrain_*.py`), `fit_resumable` (an
exact mid-epoch resume) and the Hugging Face export."""

from keras_dsmae.optimizers.pretraining import pretraining_optimizer, scaled_learning_rate
from keras_dsmae.training.export import export_encoder_folder
from keras_dsmae.training.precision import resolve_precision
from keras_dsmae.training.pretrain import run_pretraining
from keras_dsmae.training.pretraining_config import PretrainingConfig
from keras_dsmae.training.resumable_fit import fit_resumable

__all__ = ["PretrainingConfig", "export_encoder_folder", "fit_resumable", "pretraining_optimizer",
           "resolve_precision", "run_pretraining", "scaled_learning_rate"]
