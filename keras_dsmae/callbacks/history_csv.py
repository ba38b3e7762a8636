"""Per-epoch CSV log that stays one row per epoch across resumed runs."""

import csv
import io
import os

import keras

from keras_dsmae.utils.atomic_write import write_text
from keras_dsmae.utils.callback_order import RECORDS_LOGS


class HistoryCSV(keras.callbacks.Callback):
    """Write `history.csv` with one row per epoch, keyed by epoch number.

    Unlike `keras.callbacks.CSVLogger(append=True)`, a run resumed after a
    kill (or extended with more epochs) replaces the rows of the epochs it
    repeats instead of appending duplicates, and drops rows from epochs that
    were logged but never reached a checkpoint. `DSMAE.fit` runs it after
    the callbacks that add log entries and before `RunCheckpoint`, wherever
    it sits in the list (`epoch_end_stage`), so an epoch's row is complete
    and written before its checkpoint.

    Args:
        path: the CSV file; created with its folder if missing.
    """

    epoch_end_stage = RECORDS_LOGS

    def __init__(self, path):
        super().__init__()
        self.path = str(path)
        self.rows = {}

    def on_train_begin(self, logs=None):
        self.rows = {}
        if os.path.exists(self.path):
            with open(self.path, newline="") as file:
                for row in csv.DictReader(file):
                    self.rows[int(row["epoch"])] = row

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch}
        for key, value in (logs or {}).items():
            try:
                row[key] = float(value)
            except (TypeError, ValueError):
                continue
        self.rows = {e: r for e, r in self.rows.items() if e < epoch}
        self.rows[epoch] = row
        self._write()

    def _write(self):
        columns = ["epoch"]
        for row in self.rows.values():
            columns += [key for key in row if key not in columns]
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=columns, restval="")
        writer.writeheader()
        for epoch in sorted(self.rows):
            writer.writerow(self.rows[epoch])
        write_text(self.path, text.getvalue())
