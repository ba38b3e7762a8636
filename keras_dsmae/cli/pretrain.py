"""The pretraining command line: `keras-dsmae-pretrain` (installed) and the
example scripts `examples/pretrain_*.py` (the same flags, with their data
set as the default): absl flags → `keras_dsmae.training.run_pretraining`.

    keras-dsmae-pretrain --dataset=folder:/data/photos --image_size=96 --epochs=100
    keras-dsmae-pretrain --dataset=tfds:imagenette/320px --epochs=100
    keras-dsmae-pretrain --dataset=tfds:imagenet2012 --data_dir=/data/tfds --preset=dsmae_vit_base_224
"""

import os

from absl import flags

from keras_dsmae.callbacks import KNNMonitor
from keras_dsmae.cli.common import (
    define_data_flags,
    define_distribution_flag,
    define_model_flags,
    define_normalization_flag,
    exit_on_failure,
    parse_model_overrides,
    parse_normalization,
    run_command,
)
from keras_dsmae.data.dataset_names import FORMS, parse_dataset
from keras_dsmae.data.decoded_files import ON_ERROR
from keras_dsmae.data.device_feed import AUGMENT_ON
from keras_dsmae.training.precision import PRECISIONS
from keras_dsmae.training.pretrain import run_pretraining

FLAGS = flags.FLAGS


def define_pretraining_flags(default_dataset=None):
    """Define the flags once per process (safe to call again); `--dataset`
    is required when `default_dataset` is None."""
    if "dataset" not in FLAGS:
        flags.DEFINE_string("dataset", default_dataset, f"What to pretrain on: {FORMS}.")
        if default_dataset is None:
            flags.mark_flag_as_required("dataset")
    define_data_flags()
    define_normalization_flag()
    define_model_flags()
    define_distribution_flag()
    if "epochs" in FLAGS:
        return
    flags.DEFINE_integer("image_size", None, "Image side the model takes (crops are resized to it); "
                         "default: the preset's, else the data's own, else 224 for mixed sizes. "
                         "Without --preset it picks one: 32, 96 or 224 have their own.")
    flags.DEFINE_enum("on_error", "skip", list(ON_ERROR),
                      "Image files that do not decode (folder:): skip them with a warning at "
                      "the end of each epoch, or stop at the first.")
    flags.DEFINE_integer("epochs", 100, "Total epochs (a resumed run continues up to this).")
    flags.DEFINE_integer("steps_per_epoch", None, "Cap on steps per epoch; default: one pass.")
    flags.DEFINE_float("learning_rate", 1.5e-4, "Base learning rate, scaled by batch_size / 256.")
    flags.DEFINE_float("warmup_epochs", 10, "Linear warm-up epochs before cosine decay.")
    flags.DEFINE_float("weight_decay", 0.05, "AdamW weight decay.")
    flags.DEFINE_float("mask_ratio", None, "Fraction of patches hidden; default: the preset's.")
    flags.DEFINE_float("noise_std", None, "Gaussian noise on student patches; default: the preset's.")
    flags.DEFINE_float("loss_weight", None, "Feature-distillation weight; default: the preset's.")
    flags.DEFINE_enum("mixed_precision", "auto", PRECISIONS,
                      "auto: a resumed run's own precision; else bfloat16 on a GPU or CPU "
                      "with native bfloat16 (AVX512-BF16/AMX-BF16), float32 elsewhere.")
    flags.DEFINE_string("output_dir", None, "Run folder; default: runs/<dataset>_<preset>.")
    flags.DEFINE_enum("augment_on", "auto", list(AUGMENT_ON),
                      "Where the crops, flips and normalisation run: device (inside the compiled "
                      "step; data that fits stays on the device), host (tf.data), or auto (device).")
    flags.DEFINE_integer("reconstruction_every", 5, "Reconstruction grid every N epochs.")
    flags.DEFINE_integer("knn_every", 0, "kNN accuracy on the labelled data every N epochs (0: off).")
    flags.DEFINE_bool("allow_config_change", False,
                      "Continue the run in --output_dir from its last checkpoint although "
                      "settings other than --epochs changed (recorded in run_config.json).")


def _run():
    dataset = FLAGS.dataset
    name = parse_dataset(dataset)
    preset = FLAGS.preset
    output_dir = FLAGS.output_dir or os.path.join("runs", f"{name.run_name}_{preset or 'default'}")
    extra = []
    if FLAGS.knn_every and name.kind != "catalog":
        raise ValueError(
            f"--knn_every needs a labelled data set the package knows (cifar10, cifar100, "
            f"stl10); got --dataset={dataset}. Evaluate the encoder afterwards instead."
        )
    if FLAGS.knn_every:
        extra.append(KNNMonitor.for_dataset(
            dataset, every_n_epochs=FLAGS.knn_every, data_dir=FLAGS.data_dir,
            use_synthetic_data=FLAGS.use_synthetic_data, seed=FLAGS.seed, image_size=FLAGS.image_size,
        ))
    run_pretraining(
        dataset,
        output_dir=output_dir,
        preset=preset,
        epochs=FLAGS.epochs,
        steps_per_epoch=FLAGS.steps_per_epoch,
        batch_size=FLAGS.batch_size,
        learning_rate=FLAGS.learning_rate,
        warmup_epochs=FLAGS.warmup_epochs,
        weight_decay=FLAGS.weight_decay,
        mask_ratio=FLAGS.mask_ratio,
        noise_std=FLAGS.noise_std,
        loss_weight=FLAGS.loss_weight,
        mixed_precision=FLAGS.mixed_precision,
        seed=FLAGS.seed,
        data_dir=FLAGS.data_dir,
        use_synthetic_data=FLAGS.use_synthetic_data,
        reconstruction_every=FLAGS.reconstruction_every,
        model_overrides=parse_model_overrides(FLAGS.model_overrides),
        extra_callbacks=extra,
        allow_config_change=FLAGS.allow_config_change,
        distribution=FLAGS.distribution,
        image_size=FLAGS.image_size,
        on_error=FLAGS.on_error,
        normalization=parse_normalization(FLAGS.normalization),
        augment_on=FLAGS.augment_on,
    )


def pretraining_main(default_dataset=None, argv=None):
    """Entry point of an example script (`default_dataset`: its data set)
    and of `keras-dsmae-pretrain` (None: `--dataset` is required); `argv`
    defaults to `sys.argv`. Exits: 0 when done, 1 on a failure."""
    define_pretraining_flags(default_dataset)
    run_command(lambda argv: exit_on_failure(_run), argv)


def main(argv=None):
    """`keras-dsmae-pretrain`."""
    pretraining_main(None, argv)
