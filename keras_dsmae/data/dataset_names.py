"""The data-set names the pretraining job accepts (`--dataset`):

| name                            | images                                        |
|---------------------------------|-----------------------------------------------|
| `cifar10`, `cifar100`, `stl10`  | the TFDS data sets the package knows (`catalog`) |
| `tfds:NAME[/CONFIG][:SPLIT]`    | any TFDS image data set, e.g. `tfds:imagenette/320px`, `tfds:imagenet2012:train` (default split: train) |
| `folder:PATH`                   | the image files under a folder                 |
| `npy:PATH`                      | a numpy `(N, H, W[, C])` uint8 or [0, 1] float array |
"""

import dataclasses
import os
import re

from keras_dsmae.data.catalog import DATASETS

KINDS = ("catalog", "tfds", "folder", "npy")
_TFDS_NAME = re.compile(r"^[a-z0-9_]+(/[A-Za-z0-9_.\-]+)?$")
FORMS = (
    f"{' | '.join(DATASETS)} | tfds:NAME[/CONFIG][:SPLIT] (e.g. tfds:imagenette/320px) | "
    f"folder:PATH | npy:PATH"
)


@dataclasses.dataclass(frozen=True)
class DatasetName:
    """A parsed `--dataset`.

    Attributes:
        kind: one of `KINDS`.
        name: the catalog name, the TFDS `NAME[/CONFIG]`, or the path.
        split: the TFDS split (tfds only), else None.
        text: the name as given.
    """

    kind: str
    name: str
    split: str = None
    text: str = ""

    @property
    def run_name(self):
        """A folder-name-safe short name, for the default run folder."""
        if self.kind in ("folder", "npy"):
            base = os.path.basename(os.path.normpath(self.name)) or "data"
            base = os.path.splitext(base)[0] if self.kind == "npy" else base
        else:
            base = self.name
        return re.sub(r"[^A-Za-z0-9_.\-]+", "_", base)


def parse_dataset(text):
    """`--dataset` text → `DatasetName`; a `ValueError` naming the argument,
    the value and the allowed forms otherwise (paths are checked here too:
    a folder must be a folder, a numpy file a file)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"`dataset` must be one of: {FORMS}; got dataset={text!r}.")
    text = text.strip()
    if text in DATASETS:
        return DatasetName("catalog", text, None, text)
    kind, sep, rest = text.partition(":")
    if not sep or kind not in ("tfds", "folder", "npy") or not rest:
        raise ValueError(f"`dataset` must be one of: {FORMS}; got dataset={text!r}.")
    if kind == "tfds":
        name, _, split = rest.partition(":")
        if not _TFDS_NAME.match(name):
            raise ValueError(
                f"`dataset` {text!r}: {name!r} is not a TFDS name (lower-case letters, digits "
                f"and _, optionally /CONFIG). Allowed forms: {FORMS}."
            )
        return DatasetName("tfds", name, split or "train", text)
    path = os.path.expanduser(rest)
    if kind == "folder" and not os.path.isdir(path):
        raise ValueError(f"`dataset` {text!r}: {path!r} is not an existing folder.")
    if kind == "npy" and not os.path.isfile(path):
        raise ValueError(f"`dataset` {text!r}: {path!r} is not an existing file.")
    return DatasetName(kind, path, None, text)
