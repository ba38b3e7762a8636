"""What every command line of the package shares: the data and model
flags (defined once per process), JSON model overrides, and failing with
`error: ...` and exit status 1."""

import sys
import warnings

from absl import app, flags

from keras_dsmae.data.catalog import DATASETS
from keras_dsmae.data.normalization import Normalization
from keras_dsmae.training.pretraining_config import PretrainingConfig
from keras_dsmae.utils.settings import define_flags, json_object
from keras_dsmae.utils.stop_signals import RunPreempted

FLAGS = flags.FLAGS


def define_data_flags(default_dataset=None):
    """`--data_dir`, `--use_synthetic_data`, `--seed`, `--batch_size` (help
    and defaults from `PretrainingConfig`), and `--dataset` (an enum of the
    catalog's data sets) when `default_dataset` is given; safe to call again."""
    if default_dataset is not None and "dataset" not in FLAGS:
        flags.DEFINE_enum("dataset", default_dataset, sorted(DATASETS), "TFDS data set.")
    define_flags(PretrainingConfig, ["data_dir", "use_synthetic_data", "seed", "batch_size"])


def define_model_flags():
    """`--preset` (an enum of the presets) and `--model_overrides`."""
    define_flags(PretrainingConfig, ["preset", "model_overrides"])


def define_distribution_flag():
    """`--distribution` (see `keras_dsmae.training.distribution`)."""
    define_flags(PretrainingConfig, ["distribution"])


def define_normalization_flag():
    """`--normalization` (see `data.Normalization.parse`)."""
    define_flags(PretrainingConfig, ["normalization"])


def parse_json_object(text, flag="model_overrides"):
    """A JSON-object flag (`--model_overrides`, `--ranges`) → dict (None
    when empty); a `UsageError` naming the flag when it is not a JSON object."""
    try:
        return json_object(text)
    except ValueError as error:
        raise app.UsageError(f"--{flag} {error}") from None


def parse_model_overrides(text):
    """`--model_overrides` → dict or None (see `parse_json_object`)."""
    return parse_json_object(text, "model_overrides")


def parse_normalization(text):
    """`--normalization` → a `Normalization` (None when empty); a
    `ValueError` naming the flag otherwise (see `Normalization.parse`)."""
    try:
        return Normalization.parse(text)
    except ValueError as error:
        raise ValueError(f"--normalization {error}") from None


def run_command(command, argv=None):
    """`app.run(command, argv)` (`argv`: default `sys.argv`), with `--help`
    listing the package's flags (absl's `--help` lists only the flags of the
    main module, which for an installed command or an example script is a
    two-line wrapper)."""
    for module, module_flags in FLAGS.flags_by_module_dict().items():
        if module.startswith("keras_dsmae"):
            for flag in module_flags:
                FLAGS.register_key_flag_for_module(sys.argv[0], flag)
    warnings.formatwarning = _one_line_warning
    app.run(command, argv=argv)


def _one_line_warning(message, category, filename, lineno, line=None):
    return f"warning: {message}\n"


def exit_on_failure(job):
    """Run `job()`; on a `ValueError` (bad argument or data, changed
    configuration) or a `RuntimeError` (divergence, unreadable data) print
    `error: <message>` to stderr and exit with status 1, without a
    traceback. A run stopped by a signal after saving its state
    (`RunPreempted`) prints where, and exits with `128 + signal`
    (143 for SIGTERM)."""
    try:
        return job()
    except RunPreempted as stopped:
        print(f"keras_dsmae: {stopped}", file=sys.stderr, flush=True)
        sys.exit(stopped.exit_status)
    except (ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        sys.exit(1)
