"""Run a tiny pretraining job that logs every step and stops itself at a
given step with a real signal, as a scheduler's preemption (SIGTERM) or a
kill (SIGKILL) would; the job's own exit path (status 143 on SIGTERM) ends it.

    python tests/helpers/preempted_run.py OUTPUT_DIR SIGNAL STEP
    (SIGNAL: TERM, KILL or none; STEP: the global step after which it comes)
"""

import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from keras_dsmae.cli.common import exit_on_failure  # noqa: E402
from tests.helpers.jobs import StepLog, pretrain_steps  # noqa: E402

output_dir, signal_name, stop_step = sys.argv[1], sys.argv[2], int(sys.argv[3])
log = StepLog(os.path.join(output_dir + ".steps"),
              stop_at=None if signal_name == "none" else (stop_step, getattr(signal, f"SIG{signal_name}")))
exit_on_failure(lambda: pretrain_steps(output_dir, extra_callbacks=[log]))
