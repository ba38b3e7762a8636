"""The data-set names the pretraining job accepts (`--dataset`), and the
registry of their kinds:

| name                            | images                                        |
|---------------------------------|-----------------------------------------------|
| `cifar10`, `cifar100`, `stl10`  | the TFDS data sets the package knows (`catalog`) |
| `tfds:NAME[/CONFIG][:SPLIT]`    | any TFDS image data set, e.g. `tfds:imagenette/320px`, `tfds:imagenet2012:train` (default split: train) |
| `folder:PATH`                   | the image files under a folder                 |
| `npy:PATH`                      | a numpy `(N, H, W[, C])` uint8 or [0, 1] float array |

A kind is one `data.sources.ImageSource` subclass in one file, registered
with `register_dataset_kind("mykind")`: it checks the part after `mykind:`,
opens the images for pretraining and, if it has labels, the evaluation
splits; `--dataset=mykind:...` then reaches it in pretraining, evaluation,
tuning and the help texts.
"""

import dataclasses
import re

# kind -> its ImageSource subclass, in registration order (the order of the forms in help texts)
DATASET_KINDS = {}


def register_dataset_kind(kind):
    """Class decorator: make an `ImageSource` subclass the `--dataset` kind
    `kind`, written `kind:REST` (or one of the class's `BARE_NAMES`)."""
    def register(cls):
        if kind in DATASET_KINDS:
            raise ValueError(
                f"A --dataset kind {kind!r} is registered already ({DATASET_KINDS[kind].__name__}); "
                f"pick another name for {cls.__name__}.")
        cls.kind = kind
        DATASET_KINDS[kind] = cls
        return cls
    return register


def dataset_forms(labelled=False):
    """How `--dataset` names are written, `" | "`-joined: every kind's
    `FORM`, or with `labelled=True` the kinds with labels (`LABELLED_FORM`)."""
    forms = [cls.LABELLED_FORM if labelled else cls.FORM for cls in DATASET_KINDS.values()]
    return " | ".join(form for form in forms if form)


@dataclasses.dataclass(frozen=True)
class DatasetName:
    """A parsed `--dataset`.

    Attributes:
        kind: a registered kind (`DATASET_KINDS`).
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
        return re.sub(r"[^A-Za-z0-9_.\-]+", "_", DATASET_KINDS[self.kind].run_name(self))


def parse_dataset(text):
    """`--dataset` text → `DatasetName`; a `ValueError` naming the argument,
    the value and the allowed forms otherwise (each kind checks its part:
    a folder must be a folder, a numpy file a file)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"`dataset` must be one of: {dataset_forms()}; got dataset={text!r}.")
    text = text.strip()
    for cls in DATASET_KINDS.values():
        if text in cls.BARE_NAMES:
            return DatasetName(cls.kind, text, None, text)
    kind, sep, rest = text.partition(":")
    cls = DATASET_KINDS.get(kind)
    if not sep or cls is None or not cls.FORM.startswith(f"{kind}:") or not rest:
        raise ValueError(f"`dataset` must be one of: {dataset_forms()}; got dataset={text!r}.")
    return cls.parse_name(rest, text)
