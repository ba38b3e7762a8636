"""The evaluation command lines: `keras-dsmae-probe` and
`keras-dsmae-finetune` (installed), `examples/linear_probe.py` and
`examples/finetune.py`: a pretrained `encoder.keras` on a labelled data set
(a catalog name, or `folder:PATH` with train/ and test/ class folders)."""

import os

import keras
from absl import app, flags

from keras_dsmae import evaluation, models  # noqa: F401  (models: registers the layers for loading)
from keras_dsmae.callbacks.run_checkpoint import RunCheckpoint, TrainingDiverged
from keras_dsmae.cli.common import (
    define_data_flags,
    define_normalization_flag,
    exit_on_failure,
    parse_normalization,
    run_command,
)
from keras_dsmae.data.labelled_sources import evaluation_forms, evaluation_splits
from keras_dsmae.utils.atomic_write import atomic_path, write_json
from keras_dsmae.utils.stop_signals import stop_on_signals

FLAGS = flags.FLAGS


def define_common_flags():
    if "dataset" not in FLAGS:
        flags.DEFINE_string("dataset", "cifar100", f"Labelled data set: {evaluation_forms()}.")
    define_data_flags()
    define_normalization_flag()
    if "encoder" in FLAGS:
        return
    flags.DEFINE_string("encoder", None, "Path of the pretrained encoder.keras (from a pretraining run).")
    flags.DEFINE_integer("train_examples", None, "Use only the first N training images.")
    flags.mark_flag_as_required("encoder")


def load_encoder(path):
    """The pretrained `ViTEncoder` saved by a pretraining run."""
    if not os.path.exists(path):
        raise app.UsageError(f"--encoder {path!r} does not exist; pass the encoder.keras of a pretraining run.")
    return keras.models.load_model(path)


def splits(encoder, training=False):
    """`(train, test, num_classes)` labelled datasets from the flags, at the
    encoder's image size and channels."""
    train, test, num_classes, _ = evaluation_splits(
        FLAGS.dataset, image_size=encoder.image_size, num_channels=encoder.num_channels,
        batch_size=FLAGS.batch_size, training=training, seed=FLAGS.seed, data_dir=FLAGS.data_dir,
        use_synthetic_data=FLAGS.use_synthetic_data, train_examples=FLAGS.train_examples,
        normalization=parse_normalization(FLAGS.normalization),
    )
    return train, test, num_classes


def _linear_probe(argv):
    del argv
    encoder = load_encoder(FLAGS.encoder)
    train, test, num_classes = splits(encoder)
    knn = evaluation.knn_accuracy(encoder, train, test, k=FLAGS.knn_k, num_classes=num_classes)
    print(f"kNN (k={FLAGS.knn_k}) accuracy: {knn:.4f}", flush=True)
    linear = evaluation.linear_probe(encoder, train, test, epochs=FLAGS.epochs, num_classes=num_classes,
                                     seed=FLAGS.seed, verbose=2)
    print(f"linear-probe accuracy: {linear:.4f}")


def linear_probe_main():
    """Entry point of `examples/linear_probe.py`."""
    define_common_flags()
    flags.DEFINE_integer("epochs", 90, "Linear-probe epochs (features are computed once).")
    flags.DEFINE_integer("knn_k", 20, "kNN neighbours.")
    run_command(lambda argv: exit_on_failure(lambda: _linear_probe(argv)))


def _finetune(argv):
    del argv
    encoder = load_encoder(FLAGS.encoder)
    train, test, num_classes = splits(encoder, training=True)
    # A preempted or killed fine-tuning resumes from its newest checkpoint on a rerun (a
    # mid-epoch one runs its epoch again from the start); a signal saves and exits 143.
    with stop_on_signals() as stop_request:
        checkpoint = RunCheckpoint(os.path.join(FLAGS.output_dir, "checkpoints"),
                                   every_minutes=FLAGS.checkpoint_every_minutes or None,
                                   stop_request=stop_request)
        result = evaluation.fine_tune(
            encoder, train, test, num_classes, epochs=FLAGS.epochs, batch_size=FLAGS.batch_size,
            learning_rate=FLAGS.learning_rate, warmup_epochs=FLAGS.warmup_epochs,
            weight_decay=FLAGS.weight_decay, layer_decay=FLAGS.layer_decay,
            drop_path_rate=FLAGS.drop_path, mixup_alpha=FLAGS.mixup, cutmix_alpha=FLAGS.cutmix,
            label_smoothing=FLAGS.label_smoothing, seed=FLAGS.seed, callbacks=[checkpoint],
        )
    if checkpoint.diverged:
        raise TrainingDiverged(f"Fine-tuning diverged: {checkpoint.diverged}; classifier.keras was not written.")
    with atomic_path(os.path.join(FLAGS.output_dir, "classifier.keras")) as partial:
        result.model.save(partial)
    write_json(os.path.join(FLAGS.output_dir, "finetune_history.json"),
               {k: [float(v) for v in values] for k, values in result.history.history.items()})
    print(f"fine-tuned test accuracy: {result.accuracy:.4f}; wrote {FLAGS.output_dir}/classifier.keras")


def finetune_main():
    """Entry point of `examples/finetune.py`."""
    define_common_flags()
    flags.DEFINE_integer("epochs", 100, "Fine-tuning epochs.")
    flags.DEFINE_float("learning_rate", 1e-3, "Base rate, scaled by batch_size / 256.")
    flags.DEFINE_float("warmup_epochs", 5, "Linear warm-up epochs.")
    flags.DEFINE_float("checkpoint_every_minutes", 30.0, "Also checkpoint within an epoch after this many "
                       "minutes since the last save (0: at epoch ends only); a rerun resumes.")
    flags.DEFINE_float("weight_decay", 0.05, "AdamW weight decay.")
    flags.DEFINE_float("layer_decay", 0.75, "Layer-wise learning-rate decay.")
    flags.DEFINE_float("drop_path", 0.1, "Stochastic depth of the last block.")
    flags.DEFINE_float("mixup", 0.8, "MixUp alpha (0: off).")
    flags.DEFINE_float("cutmix", 1.0, "CutMix alpha (0: off).")
    flags.DEFINE_float("label_smoothing", 0.1, "Label smoothing.")
    flags.DEFINE_string("output_dir", "runs/finetune", "Where classifier.keras goes.")
    run_command(lambda argv: exit_on_failure(lambda: _finetune(argv)))
