"""What every command line of the package shares: the data and model
flags (defined once per process), JSON model overrides, and failing with
`error: ...` and exit status 1."""

import json
import sys
import warnings

from absl import app, flags

from keras_dsmae.data.catalog import DATASETS
from keras_dsmae.data.normalization import Normalization
from keras_dsmae.presets import PRESETS
from keras_dsmae.training.distribution import DISTRIBUTIONS

FLAGS = flags.FLAGS


def _define_once(define, name, *args, **kwargs):
    if name not in FLAGS:
        define(name, *args, **kwargs)


def define_data_flags(default_dataset=None):
    """`--data_dir`, `--use_synthetic_data`, `--seed`, `--batch_size`, and
    `--dataset` (an enum of the supported data sets) when `default_dataset`
    is given; safe to call again."""
    if default_dataset is not None:
        _define_once(flags.DEFINE_enum, "dataset", default_dataset, sorted(DATASETS), "TFDS data set.")
    _define_once(flags.DEFINE_string, "data_dir", None, "TFDS data directory with the prepared data set.")
    _define_once(flags.DEFINE_bool, "use_synthetic_data", False, "Generated images instead of TFDS (offline).")
    _define_once(flags.DEFINE_integer, "seed", 0, "Seed for initialisation, masks, noise and data.")
    _define_once(flags.DEFINE_integer, "batch_size", 256, "Images per step.")


def define_model_flags():
    """`--preset` (an enum of the presets) and `--model_overrides`."""
    _define_once(flags.DEFINE_enum, "preset", None, sorted(PRESETS), "Model preset; default: the data set's.")
    _define_once(flags.DEFINE_string, "model_overrides", None,
                 'JSON dict of other DSMAE arguments, e.g. \'{"encoder_depth": 6}\'.')


def define_distribution_flag():
    """`--distribution` (see `keras_dsmae.training.distribution`)."""
    _define_once(flags.DEFINE_enum, "distribution", "auto", DISTRIBUTIONS,
                 "Data-parallel engine: auto, none, mirrored (TensorFlow, one host), "
                 "data_parallel (JAX). --batch_size is the global batch.")


def parse_json_object(text, flag="model_overrides"):
    """A JSON-object flag (`--model_overrides`, `--ranges`) → dict (None
    when empty); a `UsageError` naming the flag when it is not a JSON object."""
    if not text:
        return None
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as error:
        raise app.UsageError(f"--{flag} must be a JSON object; got {text!r} ({error}).")
    if not isinstance(parsed, dict):
        raise app.UsageError(f"--{flag} must be a JSON object; got {text!r}.")
    return parsed


def parse_model_overrides(text):
    """`--model_overrides` → dict or None (see `parse_json_object`)."""
    return parse_json_object(text, "model_overrides")


IMAGENET = Normalization((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def define_normalization_flag():
    """`--normalization` (see `parse_normalization`)."""
    _define_once(flags.DEFINE_string, "normalization", None,
                 "Per-channel mean/std in [0, 1] units as MEAN,MEAN,MEAN/STD,STD,STD, or "
                 "'imagenet'; default: the catalog's, else from a sample of the data.")


def parse_normalization(text):
    """`--normalization` → a `Normalization` (None when empty): 'imagenet',
    or 'MEAN,.../STD,...' with one value per channel; a `ValueError` naming
    the flag otherwise."""
    if not text:
        return None
    if text.strip().lower() == "imagenet":
        return IMAGENET
    means, sep, stds = text.partition("/")
    try:
        mean = tuple(float(v) for v in means.split(","))
        std = tuple(float(v) for v in stds.split(","))
        if not sep or len(mean) != len(std) or len(mean) not in (1, 3):
            raise ValueError("one value per channel (1 or 3) on each side of '/'")
        return Normalization(mean, std)
    except ValueError as error:
        raise ValueError(
            f"--normalization must be 'imagenet' or MEAN,MEAN,MEAN/STD,STD,STD in [0, 1] units "
            f"(1 or 3 channels, std > 0); got --normalization={text!r} ({error})."
        ) from None


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
    traceback."""
    try:
        return job()
    except (ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        sys.exit(1)
