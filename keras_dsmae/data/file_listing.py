"""Listing the image files of a folder tree, in parallel for big trees (one
thread per first-level sub-folder: on network storage listing is latency
bound, not CPU bound)."""

import concurrent.futures
import os

import numpy as np

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
LISTING_THREADS = 32


def _images_under(folder):
    found = []
    for root, _, files in os.walk(folder):
        found += [os.path.join(root, f) for f in files if f.lower().endswith(IMAGE_EXTENSIONS)]
    return found


def list_image_files(directory, threads=LISTING_THREADS):
    """Image paths under `directory` (sorted) and their labels.

    When every image sits in a first-level sub-folder, the sub-folder names
    are the classes (sorted) and labels are their indices; otherwise
    labels and classes are None.

    Args:
        directory: the folder.
        threads: sub-folders listed at once.

    Returns:
        `(paths, labels, classes)`: a list of N str, an `(N,)` int64 array
        or None, a list of class names or None.
    """
    if not os.path.isdir(directory):
        raise ValueError(f"`directory` must be an existing folder; got directory={directory!r}.")
    directory = os.fspath(directory)
    with os.scandir(directory) as entries:
        entries = sorted(entries, key=lambda entry: entry.name)
    top_files = [e.path for e in entries if e.is_file() and e.name.lower().endswith(IMAGE_EXTENSIONS)]
    folders = [e.path for e in entries if e.is_dir()]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(threads, len(folders) or 1))) as pool:
        per_folder = list(pool.map(_images_under, folders))
    paths = sorted(top_files + [path for found in per_folder for path in found])
    if not paths:
        raise ValueError(
            f"No image files ({', '.join(IMAGE_EXTENSIONS)}) under directory={directory!r}."
        )
    if top_files:
        return paths, None, None
    classes = sorted(os.path.basename(folder) for folder, found in zip(folders, per_folder) if found)
    index = {name: i for i, name in enumerate(classes)}
    labels = np.array(
        [index[os.path.relpath(path, directory).split(os.sep)[0]] for path in paths], np.int64
    )
    return paths, labels, classes
