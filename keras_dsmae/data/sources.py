"""The interface over every place pretraining and evaluation images come
from, one `ImageSource` subclass per `--dataset` kind (registered in
`dataset_names`; the package's own: `source_catalog`, `source_tfds`,
`source_folder`, `source_npy`). The pretraining job asks a source for its
native image size, a default normalisation, training batches at the
model's size, and a few fixed images to show reconstructions of; the
evaluation commands ask its kind for labelled train and test splits.
"""

import os

from keras_dsmae.data.dataset_names import DATASET_KINDS, DatasetName, dataset_forms, parse_dataset
from keras_dsmae.data.image_folder import STATISTICS_SAMPLE

DEFAULT_CROP_SCALE = (0.2, 1.0)  # MAE's area range of the random resized crop


class ImageSource:
    """What the pretraining job needs from a data set, and, on the class,
    what its `--dataset` kind is.

    Class attributes:
        kind: the registered kind (set by `register_dataset_kind`).
        FORM: how a name of the kind is written, for help and errors
            (`"npy:PATH"`).
        LABELLED_FORM: the form for evaluation, or None (no labels).
        BARE_NAMES: names written without `kind:` (the catalog's).
        SYNTHETIC: whether `use_synthetic_data` applies.

    Attributes:
        dataset: the `DatasetName`.
        native_image_size: `(H, W)` of every image, or None (sizes vary).
        num_examples: images in one pass (all shards), or None if unknown.
        skipped_files: a `SkippedFiles` for sources of files, else None.
    """

    kind = None
    FORM = ""
    LABELLED_FORM = None
    BARE_NAMES = ()
    SYNTHETIC = False
    native_image_size = None
    num_examples = None
    skipped_files = None

    def __init__(self, dataset):
        self.dataset = dataset

    @classmethod
    def parse_name(cls, rest, text):
        """`DatasetName` of `text` (`"kind:REST"`); a `ValueError` naming
        `dataset` when `rest` is not a name of this kind."""
        return DatasetName(cls.kind, rest, None, text)

    @classmethod
    def run_name(cls, name):
        """A short name of `name` (a `DatasetName`) for the default run folder."""
        return name.name

    @classmethod
    def open(cls, name, *, data_dir, use_synthetic_data, synthetic_examples, on_error, statistics_sample):
        """The source of `name` (a `DatasetName`), with the options of
        `open_source` that apply to the kind."""
        raise NotImplementedError

    @classmethod
    def evaluation_splits(cls, name, **options):
        """`(train, test, num_classes, normalization)`; see
        `data.evaluation_splits`. Kinds without labels refuse."""
        raise ValueError(
            f"Evaluation needs labels: `dataset` must be one of {dataset_forms(labelled=True)}; got "
            f"dataset={name.text!r}. Evaluate other data in Python with keras_dsmae.evaluation."
        )

    def default_normalization(self, num_channels, seed=0):
        """The `Normalization` to use when the user gives none."""
        raise NotImplementedError

    def training_batches(self, batch_size, *, image_size, num_channels, normalization, seed, shard=None,
                         augment_on="host", crop_scale=DEFAULT_CROP_SCALE):
        """Shuffled, augmented `(B, H, W, C)` batches; `shard=(count, index)`
        restricts them to one process's share of the data; `augment_on`
        says where the augmentation runs (see `data.device_feed`);
        `crop_scale` is the random resized crop's `(low, high)` area range."""
        raise NotImplementedError

    def display_images(self, count, *, image_size, num_channels, normalization, seed):
        """`(count, H, W, C)` normalised numpy images, un-augmented, the same
        every call."""
        raise NotImplementedError


class PathSource(ImageSource):
    """A kind named by a path (`folder:PATH`, `npy:PATH`), `~` expanded:
    `PATH_IS` says whether the path is of the kind (`os.path.isdir`,
    `os.path.isfile`), `PATH_WHAT` names it in the error; runs are named
    after the path's last part."""

    PATH_IS = staticmethod(os.path.exists)
    PATH_WHAT = "path"

    @classmethod
    def parse_name(cls, rest, text):
        path = os.path.expanduser(rest)
        if not cls.PATH_IS(path):
            raise ValueError(f"`dataset` {text!r}: {path!r} is not an existing {cls.PATH_WHAT}.")
        return DatasetName(cls.kind, path, None, text)

    @classmethod
    def run_name(cls, name):
        return os.path.basename(os.path.normpath(name.name)) or "data"


def open_source(dataset, *, data_dir=None, use_synthetic_data=False, synthetic_examples=2048,
                on_error="skip", statistics_sample=STATISTICS_SAMPLE):
    """The `ImageSource` for a `--dataset` name (see `dataset_names`).

    Args:
        dataset: e.g. "cifar100", "tfds:imagenette/320px", "folder:/data/photos",
            "npy:images.npy".
        data_dir: TFDS data directory (catalog and tfds names).
        use_synthetic_data: generated stand-ins (catalog names only).
        synthetic_examples: how many generated images.
        on_error: "skip" or "raise" for undecodable files (folders).
        statistics_sample: images sampled for a default normalisation.

    Raises:
        ValueError: the name is malformed, the path missing, or an option
            does not apply to that kind of data set.

    Returns:
        the kind's `ImageSource`.
    """
    name = parse_dataset(dataset)
    cls = DATASET_KINDS[name.kind]
    if use_synthetic_data and not cls.SYNTHETIC:
        synthetic = [bare for kind in DATASET_KINDS.values() if kind.SYNTHETIC for bare in kind.BARE_NAMES]
        raise ValueError(
            f"`use_synthetic_data` generates stand-ins for the catalog's data sets "
            f"({', '.join(synthetic)}) only; got dataset={dataset!r}."
        )
    return cls.open(name, data_dir=data_dir, use_synthetic_data=use_synthetic_data,
                    synthetic_examples=synthetic_examples, on_error=on_error,
                    statistics_sample=statistics_sample)
