"""Input pipelines (tf.data) for pretraining and evaluation.

TFDS data sets: `pretraining_dataset`, `labelled_dataset` ("cifar10",
"cifar100", "stl10"). Your own images: `from_arrays`, `from_image_folder`
(streamed, any number of files). Any `--dataset` name of the pretraining
job (`cifar100`, `tfds:NAME[/CONFIG][:SPLIT]`, `folder:PATH`, `npy:PATH`;
a new kind is one registered `ImageSource` class, see `dataset_names`):
`open_source`. All of them feed `model.fit` on every Keras backend.
Training pipelines take `augment_on="host" | "device" | "auto"`: see
`device_feed` (augmentation inside the compiled step, small data sets kept
on the device).
"""

from keras_dsmae.data.arrays import from_arrays
from keras_dsmae.data.catalog import DATASETS, DatasetSpec, get_spec
from keras_dsmae.data.dataset_names import DATASET_KINDS, DatasetName, parse_dataset, register_dataset_kind
from keras_dsmae.data.decoded_files import SkippedFiles, UndecodableFile
from keras_dsmae.data.file_listing import list_image_files
from keras_dsmae.data.image_folder import from_image_folder
from keras_dsmae.data.labelled_sources import evaluation_splits
from keras_dsmae.data.mixing import mix_batches, mixing_augmentation
from keras_dsmae.data.normalization import Normalization
from keras_dsmae.data.sources import ImageSource, open_source
# The --dataset kinds, each registering itself, in the order help texts list them.
from keras_dsmae.data import source_catalog  # noqa: F401, E402
from keras_dsmae.data import source_tfds  # noqa: F401, E402
from keras_dsmae.data import source_folder  # noqa: F401, E402
from keras_dsmae.data import source_npy  # noqa: F401, E402
from keras_dsmae.data.synthetic import synthetic_images
from keras_dsmae.data.tfds_source import (
    labelled_dataset,
    load_tfds_split,
    normalization_for,
    pretraining_dataset,
)

__all__ = [
    "DATASETS",
    "DATASET_KINDS",
    "DatasetName",
    "DatasetSpec",
    "ImageSource",
    "Normalization",
    "SkippedFiles",
    "UndecodableFile",
    "evaluation_splits",
    "from_arrays",
    "from_image_folder",
    "get_spec",
    "labelled_dataset",
    "list_image_files",
    "mix_batches",
    "mixing_augmentation",
    "load_tfds_split",
    "normalization_for",
    "open_source",
    "parse_dataset",
    "register_dataset_kind",
    "pretraining_dataset",
    "synthetic_images",
]
