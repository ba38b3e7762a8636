"""The `--dataset` kind `folder:PATH`: the image files under a folder,
streamed (decoded per batch, undecodable files skipped or raised); labelled
for evaluation when laid out as `PATH/train/<class>/` and `PATH/test/<class>/`."""

import os

import numpy as np

from keras_dsmae.data.dataset_names import register_dataset_kind
from keras_dsmae.data.decoded_files import SkippedFiles
from keras_dsmae.data.file_listing import list_image_files
from keras_dsmae.data.image_folder import (
    STATISTICS_SAMPLE,
    folder_pipeline,
    from_image_folder,
    sample_statistics,
    shard_of,
)
from keras_dsmae.data.sources import DEFAULT_CROP_SCALE, PathSource


@register_dataset_kind("folder")
class FolderSource(PathSource):
    """The image files under a folder (`folder:PATH`), listed once;
    labelled for evaluation when laid out as `train/<class>/`, `test/<class>/`."""

    FORM = "folder:PATH"
    LABELLED_FORM = "folder:PATH (with PATH/train/<class>/ and PATH/test/<class>/)"
    PATH_IS = staticmethod(os.path.isdir)
    PATH_WHAT = "folder"

    @classmethod
    def open(cls, name, *, on_error, statistics_sample, **_):
        return cls(name, on_error, statistics_sample)

    @classmethod
    def evaluation_splits(cls, name, *, image_size, num_channels, batch_size, training, seed, data_dir,
                          use_synthetic_data, train_examples, normalization, on_error):
        del data_dir  # TFDS only
        if use_synthetic_data or train_examples:
            raise ValueError(
                f"`use_synthetic_data` and `train_examples` apply to the catalog's data sets, not to "
                f"dataset={name.text!r}."
            )
        folders = [os.path.join(name.name, part) for part in ("train", "test")]
        if not all(os.path.isdir(folder) for folder in folders):
            raise ValueError(
                f"`dataset` {name.text!r}: for evaluation the folder must hold train/ and test/, each "
                f"with one sub-folder per class ({cls.LABELLED_FORM})."
            )
        common = dict(image_size=image_size, num_channels=num_channels, batch_size=batch_size,
                      on_error=on_error, seed=seed)
        train = from_image_folder(folders[0], training=training, normalization=normalization, **common)
        test = from_image_folder(folders[1], training=False, normalization=train.normalization, **common)
        if train.class_names is None or train.class_names != test.class_names:
            raise ValueError(
                f"`dataset` {name.text!r}: train/ and test/ must hold the same class sub-folders (and "
                f"only them); got {train.class_names} and {test.class_names}."
            )
        return train, test, len(train.class_names), train.normalization

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
                         augment_on="host", crop_scale=DEFAULT_CROP_SCALE):
        return self._batches(shard_of(self.paths, shard), batch_size, True, image_size=image_size,
                             num_channels=num_channels, normalization=normalization, seed=seed,
                             augment_on=augment_on, crop_scale=crop_scale)

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
