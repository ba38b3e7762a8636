"""The `--dataset` kind `tfds:NAME[/CONFIG][:SPLIT]`: any TFDS data set
with an image feature (default split: train); unlabelled for evaluation."""

import re

import numpy as np
import tensorflow as tf

from keras_dsmae.data import tfds_source
from keras_dsmae.data.dataset_names import DatasetName, dataset_forms, register_dataset_kind
from keras_dsmae.data.image_folder import STATISTICS_SAMPLE
from keras_dsmae.data.pipeline import build_pipeline, should_cache, shuffle_buffer_for
from keras_dsmae.data.sources import DEFAULT_CROP_SCALE, ImageSource
from keras_dsmae.data.statistics import image_statistics

_TFDS_NAME = re.compile(r"^[a-z0-9_]+(/[A-Za-z0-9_.\-]+)?$")


@register_dataset_kind("tfds")
class TfdsSource(ImageSource):
    """Any TFDS data set with an image feature (`tfds:NAME[/CONFIG][:SPLIT]`)."""

    FORM = "tfds:NAME[/CONFIG][:SPLIT] (e.g. tfds:imagenette/320px)"

    @classmethod
    def parse_name(cls, rest, text):
        name, _, split = rest.partition(":")
        if not _TFDS_NAME.match(name):
            raise ValueError(
                f"`dataset` {text!r}: {name!r} is not a TFDS name (lower-case letters, digits "
                f"and _, optionally /CONFIG). Allowed forms: {dataset_forms()}."
            )
        return DatasetName(cls.kind, name, split or "train", text)

    @classmethod
    def open(cls, name, *, data_dir, statistics_sample, **_):
        return cls(name, data_dir, statistics_sample)

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
                         augment_on="host", crop_scale=DEFAULT_CROP_SCALE):
        count = self.num_examples // shard[0] if self.num_examples and shard else self.num_examples
        cache = self.native_image_size is not None and should_cache(
            "auto", count, self.native_image_size, num_channels)
        return build_pipeline(
            self._images(seed, shard, training=True), image_size=image_size, num_channels=num_channels,
            normalization=normalization, batch_size=batch_size, training=True, with_labels=False,
            seed=seed, cache=cache, num_examples=count,
            shuffle_buffer=shuffle_buffer_for(self.native_image_size, num_channels),
            augment_on=augment_on, exact_num_examples=False, crop_scale=crop_scale,
        )

    def display_images(self, count, *, image_size, num_channels, normalization, seed):
        batches = build_pipeline(
            self._images().take(count), image_size=image_size, num_channels=num_channels,
            normalization=normalization, batch_size=count, training=False, with_labels=False,
            cache=False,
        )
        return np.asarray(next(iter(batches)))
