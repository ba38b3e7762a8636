"""The pretraining command line: `keras-dsmae-pretrain` (installed) and the
example scripts `examples/pretrain_*.py` (the same flags, with their data
set as the default): absl flags → `keras_dsmae.training.run_pretraining`.

    keras-dsmae-pretrain --dataset=folder:/data/photos --image_size=96 --epochs=100
    keras-dsmae-pretrain --dataset=tfds:imagenette/320px --epochs=100
    keras-dsmae-pretrain --dataset=tfds:imagenet2012 --data_dir=/data/tfds --preset=dsmae_vit_base_224
"""

from absl import flags

from keras_dsmae.cli.common import exit_on_failure, run_command
from keras_dsmae.training.pretrain import run_pretraining
from keras_dsmae.training.pretraining_config import PretrainingConfig
from keras_dsmae.utils.settings import define_flags, from_flags

FLAGS = flags.FLAGS


def define_pretraining_flags(default_dataset=None):
    """Define the flags of every `PretrainingConfig` field, once per process
    (safe to call again); `--dataset` is required when `default_dataset` is
    None."""
    if "dataset" not in FLAGS:
        define_flags(PretrainingConfig, ["dataset"], defaults={"dataset": default_dataset})
        if default_dataset is None:
            flags.mark_flag_as_required("dataset")
    define_flags(PretrainingConfig)


def pretraining_main(default_dataset=None, argv=None):
    """Entry point of an example script (`default_dataset`: its data set)
    and of `keras-dsmae-pretrain` (None: `--dataset` is required); `argv`
    defaults to `sys.argv`. Exits: 0 when done, 1 on a failure."""
    define_pretraining_flags(default_dataset)
    run_command(lambda argv: exit_on_failure(_run), argv)


def _run():
    """The job of the parsed flags (returns None: absl exits with status 1
    when the main function returns a value)."""
    run_pretraining(from_flags(PretrainingConfig))


def main(argv=None):
    """`keras-dsmae-pretrain`."""
    pretraining_main(None, argv)
