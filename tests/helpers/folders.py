"""Image folders on disk, as users hand them to `folder:PATH`."""

import os

import numpy as np
import tensorflow as tf
from PIL import Image


def write_image_folder(root):
    """Two classes; odd sizes, grayscale, RGBA, and one corrupt file."""
    rng = np.random.default_rng(0)
    files = {
        "cats/a.png": rng.integers(0, 256, (40, 30, 3), dtype=np.uint8),
        "cats/b.jpg": rng.integers(0, 256, (17, 23, 3), dtype=np.uint8),
        "cats/gray.png": rng.integers(0, 256, (20, 20, 1), dtype=np.uint8),
        "dogs/c.png": rng.integers(0, 256, (64, 64, 4), dtype=np.uint8),
        "dogs/d.bmp": rng.integers(0, 256, (9, 31, 3), dtype=np.uint8),
    }
    for name, pixels in files.items():
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        # PNG bytes behind the .bmp name: they still decode.
        encoded = tf.io.encode_jpeg(pixels) if name.endswith(".jpg") else tf.io.encode_png(pixels)
        tf.io.write_file(path, encoded)
    with open(os.path.join(root, "dogs", "broken.png"), "wb") as f:
        f.write(b"\x89PNG not really an image")


def write_mixed_folder(root):
    """PNG, JPEG, BMP and GIF files of several sizes and modes, and two that
    do not decode."""
    write_image_folder(root)
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (50, 70, 3), dtype=np.uint8)).save(root / "cats" / "real.bmp")
    Image.fromarray(rng.integers(0, 256, (33, 21), dtype=np.uint8)).save(root / "dogs" / "gray.gif")
    Image.fromarray(rng.integers(0, 256, (120, 90, 3), dtype=np.uint8)).save(root / "dogs" / "big.jpeg")
    (root / "cats" / "truncated.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")


def write_labelled_folder(root, per_class=(8, 4)):
    """root/train/<class>/ and root/test/<class>/: bright and dark noise."""
    rng = np.random.default_rng(0)
    for split, count in zip(("train", "test"), per_class):
        for label, (low, high) in enumerate(((150, 256), (0, 100))):
            folder = root / split / f"class_{label}"
            folder.mkdir(parents=True)
            for index in range(count):
                pixels = rng.integers(low, high, (20, 24, 3), dtype=np.uint8)
                tf.io.write_file(str(folder / f"{index}.png"), tf.io.encode_png(pixels))
