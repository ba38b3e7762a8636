"""Run a tiny pretraining job and SIGKILL it in the middle of writing a
checkpoint: the `--kill_at_save`-th call of `Model.save_weights` writes half
a file, then the process kills itself, as a preemption at that moment would.

    python tests/helpers/kill_during_checkpoint.py OUTPUT_DIR KILL_AT_SAVE
"""

import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import keras  # noqa: E402

from tests.helpers.jobs import pretrain  # noqa: E402

output_dir, kill_at_save = sys.argv[1], int(sys.argv[2])
calls = []
original_save_weights = keras.Model.save_weights


def save_weights_then_die(self, filepath, *args, **kwargs):
    calls.append(filepath)
    if len(calls) == kill_at_save:
        with open(filepath, "wb") as file:
            file.write(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)  # a torn HDF5 file
            file.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    return original_save_weights(self, filepath, *args, **kwargs)


keras.Model.save_weights = save_weights_then_die
pretrain(output_dir, epochs=3)
