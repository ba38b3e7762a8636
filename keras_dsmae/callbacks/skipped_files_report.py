"""End-of-epoch warning about the image files a streaming pipeline skipped."""

import warnings

import keras


class SkippedFilesReport(keras.callbacks.Callback):
    """Warns at the end of each epoch in which the input pipeline left out
    undecodable files: how many, and a few of their names.

    Args:
        skipped_files: the `SkippedFiles` of the pipeline, e.g.
            `from_image_folder(...).skipped_files`.

    Attributes:
        reports: `(epoch, count)` for each epoch that skipped files (count:
            distinct files).
    """

    def __init__(self, skipped_files):
        super().__init__()
        self.skipped_files = skipped_files
        self.reports = []

    def on_epoch_end(self, epoch, logs=None):
        new = self.skipped_files.take_new()
        if not new:
            return
        self.reports.append((epoch + 1, len(set(new))))
        warnings.warn(f"epoch {epoch + 1}: {self.skipped_files.describe(new)}", stacklevel=1)
