"""KerasTuner search over DSD-MAE's noise_std, mask_ratio, loss_weight and
teacher knobs (`tuning.hypermodel.DEFAULT_RANGES`; narrow or fix them with
--ranges='{"feature_predictor_depth": [0, 0]}'),
scored by kNN accuracy on held-out labelled training images; the command
`keras-dsmae-tune` (installed) and `python tuning/search.py`.

    keras-dsmae-tune --dataset=cifar100 --tuner=bayesian --max_trials=20 --epochs=20
    keras-dsmae-tune --use_synthetic_data --max_trials=2 --epochs=1 --steps_per_epoch=2

Rerunning with the same --directory/--project_name resumes the search.
Distributed: run this same command once with KERASTUNER_TUNER_ID=chief and
once per worker with KERASTUNER_TUNER_ID=tuner0, tuner1, ..., all with
KERASTUNER_ORACLE_IP / KERASTUNER_ORACLE_PORT set (tuning/README.md).
"""

import os

import keras_tuner
from absl import flags

from keras_dsmae import data
from keras_dsmae.cli.common import (
    define_data_flags,
    define_distribution_flag,
    define_model_flags,
    exit_on_failure,
    parse_json_object,
    parse_model_overrides,
    run_command,
)
from keras_dsmae.data.cardinality import batches_per_epoch
from keras_dsmae.data.knn_datasets import knn_datasets
from keras_dsmae.training.distribution import resolve_distribution
from keras_dsmae.utils import validation
from keras_dsmae.tuning.hypermodel import DEFAULT_RANGES, OBJECTIVE, DSMAEHyperModel, validate_ranges
from keras_dsmae.tuning.report import format_trial_table, plot_objective, trial_rows

TUNERS = ("random", "bayesian", "hyperband")
FLAGS = flags.FLAGS


def define_tuning_flags():
    """Define the search's flags once per process (safe to call again)."""
    define_data_flags(default_dataset="cifar10")
    define_model_flags()
    define_distribution_flag()
    if "tuner" in FLAGS:
        return
    flags.DEFINE_enum("tuner", "random", TUNERS, "Search algorithm.")
    flags.DEFINE_integer("max_trials", 10, "Trials (random, bayesian); hyperband sizes itself from --epochs.")
    flags.DEFINE_integer("epochs", 10, "Pretraining epochs per trial (hyperband: the maximum).")
    flags.DEFINE_integer("steps_per_epoch", None, "Cap on steps per epoch; default: one pass.")
    flags.DEFINE_float("learning_rate", 1.5e-4, "AdamW learning rate.")
    flags.DEFINE_integer("knn_reference_examples", 5000, "Labelled training images used as kNN references.")
    flags.DEFINE_integer("knn_query_examples", 2000, "Held-out labelled training images scored.")
    flags.DEFINE_string("directory", "runs/tuning", "KerasTuner directory (resume: same directory).")
    flags.DEFINE_string("project_name", None, "Default: dsmae_<dataset>.")
    flags.DEFINE_string("ranges", None, 'JSON {name: [low, high]} narrowing the searched ranges, e.g. '
                        '\'{"mask_ratio": [0.6, 0.9], "feature_predictor_depth": [0, 0]}\' '
                        f"(searched by default: {', '.join(DEFAULT_RANGES)}; any other numeric knob of "
                        "keras_dsmae.models.method_knobs may be added, e.g. target_layers).")


def build_tuner(hypermodel, tuner, max_trials, epochs, directory, project_name, seed,
                distribution_strategy=None):
    """A KerasTuner tuner that resumes from `directory/project_name`; on
    TensorFlow it builds each trial's model under `distribution_strategy`."""
    if tuner not in TUNERS:
        raise ValueError(f"`tuner` must be one of {TUNERS}; got tuner={tuner!r}.")
    common = dict(objective=OBJECTIVE, directory=directory, project_name=project_name,
                  seed=seed, overwrite=False, distribution_strategy=distribution_strategy)
    if tuner == "random":
        return keras_tuner.RandomSearch(hypermodel, max_trials=max_trials, **common)
    if tuner == "bayesian":
        return keras_tuner.BayesianOptimization(hypermodel, max_trials=max_trials, **common)
    return keras_tuner.Hyperband(hypermodel, max_epochs=max(epochs, 2), factor=3, **common)


def run_search(dataset="cifar10", *, tuner="random", max_trials=10, epochs=10, steps_per_epoch=None,
               batch_size=256, preset=None, learning_rate=1.5e-4, knn_reference_examples=5000,
               knn_query_examples=2000, directory="runs/tuning", project_name=None,
               use_synthetic_data=False, data_dir=None, seed=0, model_overrides=None, ranges=None,
               distribution="auto", verbose=1):
    """Run (or resume) a search; returns the tuner.

    Prints the best hyperparameters and the trial table, and writes
    `objective.png` into the project folder (not on distributed workers).
    Each trial trains on the devices of `distribution` (see
    `keras_dsmae.training.distribution`); `batch_size` is the global batch.
    """
    spec = data.get_spec(dataset)
    validation.check_int("max_trials", max_trials, minimum=1)
    validation.check_int("epochs", epochs, minimum=1)
    if steps_per_epoch is not None:
        validation.check_int("steps_per_epoch", steps_per_epoch, minimum=1)
    validation.check_int("batch_size", batch_size, minimum=1)
    validation.check_int("knn_reference_examples", knn_reference_examples, minimum=1)
    validation.check_int("knn_query_examples", knn_query_examples, minimum=1)
    validation.check_seed("seed", seed, allow_none=False)
    validate_ranges(ranges)  # before any data is read
    project_name = project_name or f"dsmae_{dataset}"
    distributed = resolve_distribution(distribution, batch_size)
    references, queries = knn_datasets(
        dataset, reference_examples=knn_reference_examples, query_examples=knn_query_examples,
        query_split="holdout", data_dir=data_dir, use_synthetic_data=use_synthetic_data, seed=seed,
    )
    hypermodel = DSMAEHyperModel(
        preset or spec.default_preset, references, queries, ranges=ranges,
        learning_rate=learning_rate, model_overrides=model_overrides,
    )
    search_tuner = build_tuner(hypermodel, tuner, max_trials, epochs, directory, project_name, seed,
                               distributed.strategy)
    shard, local_batch = distributed.input_shard(batch_size)
    train = data.pretraining_dataset(dataset, local_batch, data_dir=data_dir, seed=seed,
                                     use_synthetic_data=use_synthetic_data, shard=shard)
    steps = batches_per_epoch(train, steps_per_epoch)
    fit_kwargs = dict(steps_per_epoch=steps, verbose=verbose)
    if tuner != "hyperband":
        fit_kwargs["epochs"] = epochs
    with distributed.fit_scope():  # JAX: every trial's model and fit
        search_tuner.search(train.repeat(), **fit_kwargs)

    worker = os.environ.get("KERASTUNER_TUNER_ID", "chief")
    if "chief" not in worker:
        print(f"worker {worker}: no more trials; the chief reports the results.")
        return search_tuner
    rows = trial_rows(search_tuner)
    _raise_if_every_trial_failed(search_tuner)
    best = search_tuner.get_best_hyperparameters(1)
    print("\nBest hyperparameters:", best[0].values if best else "none yet")
    print("\n" + format_trial_table(rows))
    plot_path = os.path.join(directory, project_name, "objective.png")
    plot_objective(rows, plot_path)
    print(f"\nwrote {plot_path}")
    return search_tuner


def _raise_if_every_trial_failed(search_tuner):
    trials = list(search_tuner.oracle.trials.values())
    if trials and not any(t.status == "COMPLETED" for t in trials):
        messages = [t.message for t in trials if getattr(t, "message", None)]
        raise RuntimeError(
            f"The search has no result: all {len(trials)} trials failed. First error:\n"
            + (messages[0].strip() if messages else "(KerasTuner recorded no message)")
        )


def _search(argv):
    del argv
    exit_on_failure(lambda: run_search(
        FLAGS.dataset, tuner=FLAGS.tuner, max_trials=FLAGS.max_trials, epochs=FLAGS.epochs,
        steps_per_epoch=FLAGS.steps_per_epoch, batch_size=FLAGS.batch_size, preset=FLAGS.preset,
        learning_rate=FLAGS.learning_rate, knn_reference_examples=FLAGS.knn_reference_examples,
        knn_query_examples=FLAGS.knn_query_examples, directory=FLAGS.directory,
        project_name=FLAGS.project_name, use_synthetic_data=FLAGS.use_synthetic_data,
        data_dir=FLAGS.data_dir, seed=FLAGS.seed, model_overrides=parse_model_overrides(FLAGS.model_overrides),
        ranges=parse_json_object(FLAGS.ranges, "ranges"), distribution=FLAGS.distribution,
    ))


def main(argv=None):
    """`keras-dsmae-tune` and `python tuning/search.py` (`argv`: default `sys.argv`)."""
    define_tuning_flags()
    run_command(_search, argv)
