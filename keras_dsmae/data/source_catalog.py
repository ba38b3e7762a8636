"""The `--dataset` kind of the catalog's names (`cifar10`, `cifar100`,
`stl10`): TFDS, or generated stand-ins offline; labelled."""

import numpy as np

from keras_dsmae.data import tfds_source
from keras_dsmae.data.catalog import DATASETS, get_spec
from keras_dsmae.data.dataset_names import register_dataset_kind
from keras_dsmae.data.sources import DEFAULT_CROP_SCALE, ImageSource


@register_dataset_kind("catalog")
class CatalogSource(ImageSource):
    """cifar10, cifar100, stl10 (TFDS or generated stand-ins), with labels."""

    FORM = " | ".join(DATASETS)
    LABELLED_FORM = FORM
    BARE_NAMES = DATASETS
    SYNTHETIC = True

    @classmethod
    def open(cls, name, *, data_dir, use_synthetic_data, synthetic_examples, **_):
        return cls(name, data_dir, use_synthetic_data, synthetic_examples)

    @classmethod
    def evaluation_splits(cls, name, *, image_size, num_channels, batch_size, training, seed, data_dir,
                          use_synthetic_data, train_examples, normalization, on_error):
        del on_error  # no files to decode
        spec = get_spec(name.name)
        normalization = normalization or tfds_source.normalization_for(spec.name, num_channels)
        train_split = spec.train_split + (f"[:{train_examples}]" if train_examples else "")
        common = dict(batch_size=batch_size, data_dir=data_dir, use_synthetic_data=use_synthetic_data,
                      image_size=image_size, num_channels=num_channels, normalization=normalization)
        train = tfds_source.labelled_dataset(spec.name, train_split, training=training, seed=seed,
                                             synthetic_examples=train_examples or 1024, **common)
        test = tfds_source.labelled_dataset(spec.name, spec.test_split, seed=seed + 1, synthetic_examples=512,
                                            **common)
        return train, test, spec.num_classes, normalization

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
                         augment_on="host", crop_scale=DEFAULT_CROP_SCALE):
        return tfds_source.pretraining_dataset(
            self.spec.name, batch_size, seed=seed, synthetic_examples=self._synthetic_examples,
            image_size=image_size, num_channels=num_channels, shard=shard,
            normalization=normalization, augment_on=augment_on, crop_scale=crop_scale, **self._common,
        )

    def display_images(self, count, *, image_size, num_channels, normalization, seed):
        batches = tfds_source.labelled_dataset(
            self.spec.name, self.spec.test_split, batch_size=count, synthetic_examples=count,
            seed=seed + 1, image_size=image_size, num_channels=num_channels,
            normalization=normalization, **self._common,
        )
        return np.asarray(next(iter(batches))[0])
