"""Pictures of a run: reconstruction grids and training curves (matplotlib,
written to PNG files without a display)."""

import csv

import keras
import numpy as np

from keras_dsmae.utils.pyplot import pyplot, save_figure


def _displayable(images, normalization):
    images = np.asarray(images, dtype="float32")
    if normalization is not None:
        images = normalization.invert(images)
    else:  # unknown units: stretch each image to [0, 1]
        low = images.min(axis=(1, 2, 3), keepdims=True)
        high = images.max(axis=(1, 2, 3), keepdims=True)
        images = (images - low) / np.maximum(high - low, 1e-6)
    return images[..., 0] if images.shape[-1] == 1 else images


def save_reconstruction_grid(model, images, path, normalization=None, title=None):
    """One row per image: original | masked + noisy input | reconstruction |
    reconstruction with the visible patches pasted back.

    Args:
        model: a `DSMAE` with a pixel head.
        images: `(B, H, W, C)` normalised images (B of 4 to 16 reads best).
        path: PNG file to write.
        normalization: the data's `keras_dsmae.data.Normalization`, to show
            true colours; without it each image is min-max stretched.
        title: figure title.
    """
    plt = pyplot()
    outputs = model.reconstruct(images)
    columns = {
        "original": images,
        "input (masked + noise)": outputs["corrupted"],
        "reconstruction": outputs["reconstruction"],
        "visible + reconstructed": outputs["pasted"],
    }
    columns = {name: _displayable(_to_numpy(value), normalization) for name, value in columns.items()}
    count = len(images)
    figure, axes = plt.subplots(count, len(columns), figsize=(2 * len(columns), 2 * count), squeeze=False)
    for col, (name, column) in enumerate(columns.items()):
        axes[0, col].set_title(name, fontsize=8)
        for row in range(count):
            axes[row, col].imshow(column[row], cmap="gray" if column.ndim == 3 else None, vmin=0, vmax=1)
            axes[row, col].axis("off")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    save_figure(figure, path, dpi=80)


def save_history_plot(csv_path, path, metrics=None):
    """Plot each metric of a `history.csv` against the epoch into `path`.

    Args:
        csv_path: file written by `keras_dsmae.callbacks.HistoryCSV`.
        path: PNG file to write.
        metrics: columns to plot; default all but `epoch`.
    """
    with open(csv_path, newline="") as file:
        rows = list(csv.DictReader(file))
    if not rows:
        raise ValueError(f"{csv_path!r} has no rows to plot.")
    metrics = metrics or [key for key in rows[0] if key != "epoch"]
    plt = pyplot()
    figure, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 2.8), squeeze=False)
    epochs = [int(row["epoch"]) + 1 for row in rows]
    for axis, metric in zip(axes[0], metrics):
        values = [float(row[metric]) if row.get(metric) not in (None, "") else np.nan for row in rows]
        axis.plot(epochs, values, marker="o" if len(epochs) < 30 else None)
        axis.set_title(metric, fontsize=9)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
    figure.tight_layout()
    save_figure(figure, path, dpi=80)


def _to_numpy(value):
    return np.asarray(keras.ops.convert_to_numpy(value))
