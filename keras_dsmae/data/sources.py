"""One interface over every place pretraining images come from (see
`dataset_names`): the catalog's TFDS data sets, any TFDS image data set, a
folder of image files and a numpy file. The pretraining job asks a source
for its native image size, a default normalisation, training batches at the
model's size, and a few fixed images to show reconstructions of.
"""

import numpy as np
import tensorflow as tf

from keras_dsmae.data import tfds_source
from keras_dsmae.data.arrays import from_arrays
from keras_dsmae.data.catalog import get_spec
from keras_dsmae.data.dataset_names import parse_dataset
from keras_dsmae.data.decoded_files import SkippedFiles
from keras_dsmae.data.file_listing import list_image_files
from keras_dsmae.data.image_folder import (
    STATISTICS_SAMPLE,
    folder_pipeline,
    sample_statistics,
    shard_of,
)
from keras_dsmae.data.pipeline import build_pipeline, should_cache, shuffle_buffer_for
from keras_dsmae.data.statistics import image_statistics


class ImageSource:
    """What the pretraining job needs from a data set.

    Attributes:
        dataset: the `DatasetName`.
        native_image_size: `(H, W)` of every image, or None (sizes vary).
        num_examples: images in one pass (all shards), or None if unknown.
        skipped_files: a `SkippedFiles` for sources of files, else None.
    """

    native_image_size = None
    num_examples = None
    skipped_files = None

    def __init__(self, dataset):
        self.dataset = dataset

    def default_normalization(self, num_channels, seed=0):
        """The `Normalization` to use when the user gives none."""
        raise NotImplementedError

    def training_batches(self, batch_size, *, image_size, num_channels, normalization, seed, shard=None,
                         augment_on="host"):
        """Shuffled, augmented `(B, H, W, C)` batches; `shard=(count, index)`
        restricts them to one process's share of the data; `augment_on`
        says where the augmentation runs (see `data.device_feed`)."""
        raise NotImplementedError

    def display_images(self, count, *, image_size, num_channels, normalization, seed):
        """`(count, H, W, C)` normalised numpy images, un-augmented, the same
        every call."""
        raise NotImplementedError


class CatalogSource(ImageSource):
    """cifar10, cifar100, stl10 (TFDS or generated stand-ins)."""

    def __init__(self, dataset, data_dir=None, use_synthetic_data=False, synthetic_examples=2048):
        super().__init__(dataset)
        self.spec = get_spec(dataset.name)
        self.native_image_size = self.spec.image_size
        self.num_examples = synthetic_examples if use_synthetic_data else self.spec.num_pretrain_examples
        self._common = dict(data_dir=data_dir, use_synthetic_data=use_synthetic_data)
        self._synthetic_examples = synthetic_examples

    def default_normalization(self, num_channels, seed=0):
        return tfds_source.normalization_for(self.spec.name, num_channels)

    def training_batches(self, batch_size, *, image_size, num_channels, normalization, seed, shard=None,
                         augment_on="host"):
        return tfds_source.pretraining_dataset(
            self.spec.name, batch_size, seed=seed, synthetic_examples=self._synthetic_examples,
            image_size=image_size, num_channels=num_channels, shard=shard,
            normalization=normalization, augment_on=augment_on, **self._common,
        )

    def display_images(self, count, *, image_size, num_channels, normalization, seed):
        batches = tfds_source.labelled_dataset(
            self.spec.name, self.spec.test_split, batch_size=count, synthetic_examples=count,
            seed=seed + 1, image_size=image_size, num_channels=num_channels,
            normalization=normalization, **self._common,
        )
        return np.asarray(next(iter(batches))[0])


class TfdsSource(ImageSource):
    """Any TFDS data set with an image feature (`tfds:NAME[/CONFIG][:SPLIT]`)."""

    def __init__(self, dataset, data_dir=None, statistics_sample=STATISTICS_SAMPLE):
        import tensorflow_datasets as tfds

        super().__init__(dataset)
        self.data_dir = data_dir
        self.statistics_sample = statistics_sample
        try:
            builder = tfds.builder(dataset.name, data_dir=data_dir)
        except Exception as error:  # unknown name, missing config
            raise ValueError(
                f"`dataset` {dataset.text!r}: TFDS does not know {dataset.name!r} "
                f"({type(error).__name__}: {error})."
            ) from error
        features = builder.info.features
        images = [key for key, feature in features.items() if isinstance(feature, tfds.features.Image)]
        if not images:
            raise ValueError(
                f"`dataset` {dataset.text!r} has no image feature (its features: "
                f"{', '.join(features.keys())}); pretraining needs images."
            )
        self.image_key = "image" if "image" in images else images[0]
        shape = features[self.image_key].shape
        self.native_image_size = tuple(shape[:2]) if None not in shape[:2] else None
        try:
            self.num_examples = builder.info.splits[dataset.split].num_examples or None
        except (KeyError, ValueError):  # not prepared yet: sizes come with the data
            self.num_examples = None

    def _images(self, seed=None, shard=None, training=False):
        kwargs = dict(shuffle_files=training)
        if training or shard is not None:
            kwargs["read_config"] = tfds_source.read_config(seed, shard)
        source = tfds_source.load_tfds_split(
            self.dataset.name, self.dataset.split, self.data_dir, as_supervised=False, **kwargs
        )
        key = self.image_key
        return source.map(lambda example: (example[key], tf.constant(0, tf.int64)))

    def default_normalization(self, num_channels, seed=0):
        sample = self._images().take(self.statistics_sample)
        return image_statistics(sample, num_channels, f"the first {self.statistics_sample} images")

    def training_batches(self, batch_size, *, image_size, num_channels, normalization, seed, shard=None,
                         augment_on="host"):
        count = self.num_examples // shard[0] if self.num_examples and shard else self.num_examples
        cache = self.native_image_size is not None and should_cache(
            "auto", count, self.native_image_size, num_channels)
        return build_pipeline(
            self._images(seed, shard, training=True), image_size=image_size, num_channels=num_channels,
            normalization=normalization, batch_size=batch_size, training=True, with_labels=False,
            seed=seed, cache=cache, num_examples=count,
            shuffle_buffer=shuffle_buffer_for(self.native_image_size, num_channels),
            augment_on=augment_on,
        )

    def display_images(self, count, *, image_size, num_channels, normalization, seed):
        batches = build_pipeline(
            self._images().take(count), image_size=image_size, num_channels=num_channels,
            normalization=normalization, batch_size=count, training=False, with_labels=False,
            cache=False,
        )
        return np.asarray(next(iter(batches)))


class FolderSource(ImageSource):
    """The image files under a folder (`folder:PATH`), listed once."""

    def __init__(self, dataset, on_error="skip", statistics_sample=STATISTICS_SAMPLE):
        super().__init__(dataset)
        self.paths, _, _ = list_image_files(dataset.name)
        self.num_examples = len(self.paths)
        self.on_error = on_error
        self.statistics_sample = statistics_sample
        self.skipped_files = SkippedFiles(on_error)

    def default_normalization(self, num_channels, seed=0):
        return sample_statistics(self.paths, num_channels, self.statistics_sample, seed, self.on_error)

    def _batches(self, paths, batch_size, training, **kwargs):
        return folder_pipeline(paths, None, batch_size=batch_size, training=training, with_labels=False,
                               skipped=self.skipped_files, **kwargs)

    def training_batches(self, batch_size, *, image_size, num_channels, normalization, seed, shard=None,
                         augment_on="host"):
        return self._batches(shard_of(self.paths, shard), batch_size, True, image_size=image_size,
                             num_channels=num_channels, normalization=normalization, seed=seed,
                             augment_on=augment_on)

    def display_images(self, count, *, image_size, num_channels, normalization, seed):
        quiet = SkippedFiles("skip")  # a bad file among the first few is reported in training
        first = self.paths[: 4 * count]
        batches = folder_pipeline(first, None, batch_size=count, training=False,
                                  with_labels=False, skipped=quiet, image_size=image_size,
                                  num_channels=num_channels, normalization=normalization)
        batch = next(iter(batches), None)
        if batch is None:
            raise ValueError(
                f"`dataset` {self.dataset.text!r}: none of its first {len(first)} files decodes "
                f"as an image, e.g. {', '.join(first[:3])}."
            )
        return np.asarray(batch)


class NpySource(ImageSource):
    """A numpy file of images (`npy:PATH`): `(N, H, W)` or `(N, H, W, C)`,
    uint8 or float in [0, 1]."""

    def __init__(self, dataset):
        super().__init__(dataset)
        try:
            self.images = np.load(dataset.name, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as error:
            raise ValueError(
                f"`dataset` {dataset.text!r}: not a readable .npy array ({error})."
            ) from error
        if self.images.ndim not in (3, 4) or len(self.images) == 0:
            raise ValueError(
                f"`dataset` {dataset.text!r} must hold a non-empty (N, H, W) or (N, H, W, C) "
                f"array; got shape {self.images.shape}."
            )
        self.native_image_size = tuple(self.images.shape[1:3])
        self.num_examples = len(self.images)

    def default_normalization(self, num_channels, seed=0):
        return from_arrays(self.images[:10_000], batch_size=1, num_channels=num_channels,
                           training=False).normalization

    def training_batches(self, batch_size, *, image_size, num_channels, normalization, seed, shard=None,
                         augment_on="host"):
        return from_arrays(shard_of(self.images, shard), batch_size=batch_size, image_size=image_size,
                           num_channels=num_channels, normalization=normalization, seed=seed,
                           augment_on=augment_on)

    def display_images(self, count, *, image_size, num_channels, normalization, seed):
        batches = from_arrays(self.images[:count], batch_size=count, image_size=image_size,
                              num_channels=num_channels, normalization=normalization, training=False)
        return np.asarray(next(iter(batches)))


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
    """
    name = parse_dataset(dataset)
    if use_synthetic_data and name.kind != "catalog":
        raise ValueError(
            f"`use_synthetic_data` generates stand-ins for the catalog's data sets "
            f"(cifar10, cifar100, stl10) only; got dataset={dataset!r}."
        )
    if name.kind == "catalog":
        return CatalogSource(name, data_dir, use_synthetic_data, synthetic_examples)
    if name.kind == "tfds":
        return TfdsSource(name, data_dir, statistics_sample)
    if name.kind == "folder":
        return FolderSource(name, on_error, statistics_sample)
    return NpySource(name)
