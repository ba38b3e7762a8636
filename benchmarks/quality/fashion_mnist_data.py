"""Fashion-MNIST from Debian's package (`apt-get install -y dataset-fashion-mnist`):
the idx(.gz) files, read as numpy arrays, and the training images as the
`.npy` file the pretraining job reads (`--dataset=npy:PATH`)."""

import gzip
import os

import numpy as np

from keras_dsmae.data import Normalization
from keras_dsmae.utils.atomic_write import atomic_path

FILES = {
    "train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte",
}
STATISTICS_IMAGES = 10_000  # the normalisation's sample: the first ones


def read_idx(path):
    """A numpy array from an idx(.gz) file (the MNIST format)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as file:
        raw = file.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def write_idx(path, array):
    """Write a uint8 array as an idx(.gz) file (tests make small data sets with it)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as file:
        file.write(header + array.tobytes())


def load_fashion_mnist(folder, train_examples=None, test_examples=None):
    """`{"train_images": (N, 28, 28) uint8, "train_labels": (N,), "test_images",
    "test_labels"}`, the first `train_examples` / `test_examples` of each split.

    Raises:
        SystemExit: a file is missing (saying how to install the data).
    """
    arrays = {}
    for key, name in FILES.items():
        path = next((os.path.join(folder, name + ext) for ext in (".gz", "")
                     if os.path.exists(os.path.join(folder, name + ext))), None)
        if path is None:
            raise SystemExit(f"{name}(.gz) not found in {folder}. Install the data with "
                             f"`apt-get install -y dataset-fashion-mnist` or pass --data_dir.")
        limit = train_examples if key.startswith("train") else test_examples
        arrays[key] = read_idx(path)[:limit]
    return arrays


def training_file(images, folder):
    """The training images as `<folder>/train_images_<N>.npy` (written once), its path."""
    path = os.path.join(folder, f"train_images_{len(images)}.npy")
    if not os.path.exists(path):
        os.makedirs(folder, exist_ok=True)
        with atomic_path(path) as partial:
            with open(partial, "wb") as file:
                np.save(file, images)
    return path


def normalization_of(images):
    """The per-channel statistics of the first `STATISTICS_IMAGES` uint8 images."""
    return Normalization.from_images(images[:STATISTICS_IMAGES, ..., None])


def normalised(images, normalization):
    """uint8 `(N, 28, 28)` → float32 `(N, 28, 28, 1)`, normalised."""
    mean, std = np.asarray(normalization.mean), np.asarray(normalization.std)
    return ((images[..., None] / 255.0 - mean) / std).astype("float32")
