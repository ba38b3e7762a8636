"""Keras callbacks for DSD-MAE pretraining."""

from keras_dsmae.callbacks.history_csv import HistoryCSV
from keras_dsmae.callbacks.knn_monitor import KNNMonitor
from keras_dsmae.callbacks.reconstruction_grid import ReconstructionGrid
from keras_dsmae.callbacks.run_checkpoint import RunCheckpoint, TrainingDiverged
from keras_dsmae.callbacks.skipped_files_report import SkippedFilesReport
from keras_dsmae.callbacks.teacher_ema import TeacherEMA

__all__ = [
    "HistoryCSV",
    "KNNMonitor",
    "ReconstructionGrid",
    "RunCheckpoint",
    "SkippedFilesReport",
    "TeacherEMA",
    "TrainingDiverged",
]
