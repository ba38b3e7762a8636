"""Run a tiny pretraining job that logs every step and stops itself at a
given step with a real signal, as a scheduler's preemption (SIGTERM) or a
kill (SIGKILL) would; the job's own exit path (status 143 on SIGTERM) ends it.
With TERM, a second SIGTERM arrives while the checkpoint is being written
(an impatient scheduler, a user pressing Ctrl-C twice).

    python tests/helpers/preempted_run.py OUTPUT_DIR SIGNAL STEP
    (SIGNAL: TERM, KILL or none; STEP: the global step after which it comes)
"""

import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import keras  # noqa: E402

from keras_dsmae.cli.common import exit_on_failure  # noqa: E402
from tests.helpers.jobs import StepLog, pretrain_steps, step_log  # noqa: E402

output_dir, signal_name, stop_step = sys.argv[1], sys.argv[2], int(sys.argv[3])
log = StepLog(os.path.join(output_dir + ".steps"),
              stop_at=None if signal_name == "none" else (stop_step, getattr(signal, f"SIG{signal_name}")))
if signal_name == "TERM":
    save_weights = keras.Model.save_weights

    def save_weights_signalled_again(self, *args, **kwargs):
        logged = step_log(log.path)
        if logged and logged[-1][0] >= stop_step:  # the save the first signal asked for
            os.kill(os.getpid(), signal.SIGTERM)
        return save_weights(self, *args, **kwargs)

    keras.Model.save_weights = save_weights_signalled_again
exit_on_failure(lambda: pretrain_steps(output_dir, extra_callbacks=[log]))
