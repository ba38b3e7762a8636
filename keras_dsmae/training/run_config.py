"""`run_config.json`: the settings of a run, and the check that a rerun in
the same folder continues the same run instead of mixing two."""

import hashlib
import json
import os

from keras_dsmae.models.method_settings import RELEASE_0_2_RULES
from keras_dsmae.utils.atomic_write import write_json

RUN_CONFIG_FILE = "run_config.json"
RULES_KEY = "mae_rules"  # where the model's reference-MAE rules are recorded
# Recorded, never compared: the weights files are the same on every backend,
# and a run may resume on another number of devices (the global batch stays).
NOT_COMPARED = ("backend", "peak_learning_rate", "changes", "model_signature",
                "distribution", "num_devices")


class ConfigMismatch(ValueError):
    """A rerun asked for other settings than the run in its output folder."""


class RunRecordUnreadable(ValueError):
    """`run_config.json` of a run folder is damaged (not a JSON object)."""


def model_signature(model):
    """A short fingerprint of the model's variables (their shapes, in order;
    paths carry per-process name counters): equal fingerprints mean a
    checkpoint of one loads into the other."""
    text = ";".join(str(tuple(w.shape)) for w in model.weights)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def model_rules(saved):
    """The rules (`visible_rounding`, `norm_pix_variance`) a run's model is
    built with, from its record `saved`: those it recorded; keras_dsmae
    0.2's for a run folder of 0.2, which recorded none (so that it trains on
    with them); none for a new run (`{}`: the model's defaults)."""
    if not saved:
        return {}
    return dict(saved.get(RULES_KEY, RELEASE_0_2_RULES))


def rules_of(model):
    """`{rule: value}` of a `DSMAE` built from flat arguments, to record."""
    config = model.get_config()
    return {name: config[name] for name in RELEASE_0_2_RULES if name in config}


def read_run_config(output_dir):
    """The saved settings, or None when the folder has none.

    Raises:
        RunRecordUnreadable: the file is there but damaged (naming it and
            the way out).
    """
    path = os.path.join(output_dir, RUN_CONFIG_FILE)
    if not os.path.exists(path):
        return None
    way_out = (f"It records the settings the run's checkpoints were made with: restore it, or pass "
               f"another --output_dir (or move {output_dir!r} away) to start a new run.")
    try:
        with open(path, encoding="utf-8") as file:
            saved = json.load(file)
    except (ValueError, OSError) as error:  # truncated or garbled JSON, not UTF-8, unreadable
        raise RunRecordUnreadable(f"{path} cannot be read as a run record ({error}). {way_out}") from None
    if not isinstance(saved, dict):
        raise RunRecordUnreadable(
            f"{path} must hold a JSON object of settings; it holds a {type(saved).__name__}. {way_out}")
    return saved


def write_run_config(output_dir, settings):
    """Write `run_config.json` atomically (write aside, then rename)."""
    write_json(os.path.join(output_dir, RUN_CONFIG_FILE), settings, indent=2, default=str)


def _normalised(value):
    return json.loads(json.dumps(value, default=str))


def differences(saved, requested):
    """`{setting: (saved, requested)}` of the compared settings that differ.
    A setting the saved run did not record (it was written by an older
    version) is not compared."""
    keys = set(saved) - set(NOT_COMPARED)
    found = {}
    for key in sorted(keys):
        old, new = _normalised(saved.get(key)), _normalised(requested.get(key))
        if old != new:
            found[key] = (old, new)
    return found


def settings_for_continuation(output_dir, requested, allow_config_change=False):
    """The settings to record for a run that continues in `output_dir`.

    Args:
        output_dir: the run folder, which holds a checkpoint.
        requested: this invocation's settings, including `model_signature`
            and `dtype_policy`.
        allow_config_change: accept changed settings other than the model's
            shape and precision; the change is recorded under `"changes"`.

    Returns:
        the settings dict to write back (the requested ones, with the
        history of changes).

    Raises:
        ConfigMismatch: naming every setting that differs, the saved and the
            requested value, and how to start a new run instead.
    """
    saved = read_run_config(output_dir)
    if saved is None:
        return requested
    changed = differences(saved, requested)
    epochs = changed.pop("epochs", None)
    if epochs is not None and (epochs[1] or 0) < (epochs[0] or 0):
        changed["epochs"] = epochs  # growing is a continuation; shrinking is not
    unchangeable = {}
    if saved.get("model_signature") not in (None, requested.get("model_signature")):
        unchangeable["model shape"] = ("a different model", "this one")
    if "dtype_policy" in changed:
        unchangeable["dtype_policy"] = changed["dtype_policy"]
    listing = "; ".join(f"{key}: saved {old!r}, now {new!r}" for key, (old, new) in changed.items())
    how_new = (
        f"To start a new run, pass another --output_dir (or move {output_dir!r} away)."
    )
    if unchangeable:
        details = listing or "; ".join(f"{k}: saved {o!r}, now {n!r}" for k, (o, n) in unchangeable.items())
        raise ConfigMismatch(
            f"{output_dir!r} holds a run whose checkpoint cannot be continued with "
            f"these settings: {details}. The model's shape or precision differs, so "
            f"its weights do not fit. {how_new}"
        )
    if changed and not allow_config_change:
        raise ConfigMismatch(
            f"{output_dir!r} holds a run with other settings ({listing}). A rerun "
            f"in the same folder continues that run; only a larger --epochs may "
            f"change. {how_new} To continue this run from its last checkpoint "
            f"with the new settings on purpose, pass --allow_config_change "
            f"(allow_config_change=True)."
        )
    recorded = dict(requested)
    recorded["changes"] = list(saved.get("changes", []))
    if changed:
        recorded["changes"].append({k: {"saved": o, "now": n} for k, (o, n) in changed.items()})
    return recorded
