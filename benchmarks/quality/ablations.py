"""The benchmark's configurations, read from `ablations.json` (data, not code)."""

import json
import os
from typing import NamedTuple, Optional

ABLATIONS_FILE = os.path.join(os.path.dirname(__file__), "ablations.json")
PIXELS, RANDOM = "pixels", "random"  # the two rows without pretraining


class Ablation(NamedTuple):
    """One row of the benchmark.

    Attributes:
        name: its `--configs` name.
        label: the table's label.
        overrides: `DSMAE` arguments over the budget's model, or None for a
            row without pretraining.
        encoder: `"pixels"` (no encoder), `"random"` (untrained ViT), or
            None (pretrained).
        epochs_scale: pretraining epochs = `--epochs` × this; None: ×
            `--equal_time_factor`.
    """

    name: str
    label: str
    overrides: Optional[dict] = None
    encoder: Optional[str] = None
    epochs_scale: Optional[float] = 1.0

    @property
    def pretrained(self):
        return self.encoder is None


def load_ablations(path=ABLATIONS_FILE):
    """`{name: Ablation}` from `path`, `extends` resolved.

    Raises:
        ValueError: naming the configuration whose entry is malformed.
    """
    with open(path) as file:
        entries = {name: entry for name, entry in json.load(file).items() if not name.startswith("_")}
    ablations = {}
    for name, entry in entries.items():
        unknown = set(entry) - {"label", "overrides", "encoder", "extends", "epochs_scale"}
        if unknown or "label" not in entry or ("overrides" in entry) == ("encoder" in entry):
            raise ValueError(f"{path}: configuration {name!r} needs a label and one of `overrides` or "
                             f"`encoder`; got keys {sorted(entry)}.")
        if entry.get("encoder") not in (None, PIXELS, RANDOM):
            raise ValueError(f"{path}: configuration {name!r}: `encoder` must be {PIXELS!r} or {RANDOM!r}; "
                             f"got {entry['encoder']!r}.")
        overrides = entry.get("overrides")
        base = entry.get("extends")
        if base is not None:
            if base not in entries or "overrides" not in entries[base]:
                raise ValueError(f"{path}: configuration {name!r} extends {base!r}, which is not a "
                                 f"configuration with overrides.")
            overrides = {**entries[base]["overrides"], **overrides}
        ablations[name] = Ablation(name, entry["label"], overrides, entry.get("encoder"),
                                   entry.get("epochs_scale", 1.0))
    return ablations


ABLATIONS = load_ablations()
