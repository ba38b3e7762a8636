"""The order in which callbacks must run at the end of an epoch.

Keras calls callbacks in list order, and some of ours depend on each other:
`KNNMonitor` and `TeacherEMA` add entries to the epoch logs, which
`HistoryCSV`, TensorBoard and KerasTuner's objective read; `HistoryCSV`
writes its row before `RunCheckpoint` saves the epoch (so a kill between
the two never loses a checkpointed epoch's row). Each callback declares its
stage with a class attribute `epoch_end_stage`; `DSMAE.fit` sorts by it
(stable, so callbacks of one stage keep the user's order).
"""

ADDS_LOGS = 0  # puts entries into the epoch logs
DEFAULT = 1  # reads the logs (Keras' callbacks and yours, unless they declare a stage)
RECORDS_LOGS = 2  # writes the logs to disk
SAVES_STATE = 3  # saves the training state, last


def order_callbacks(callbacks):
    """`callbacks` (a list, None, or a `keras.callbacks.CallbackList`,
    returned as is) sorted by `epoch_end_stage`."""
    if callbacks is None or not isinstance(callbacks, (list, tuple)):
        return callbacks
    return sorted(callbacks, key=lambda callback: getattr(callback, "epoch_end_stage", DEFAULT))
