"""Stopping a run cleanly on SIGTERM, SIGINT or SIGUSR1 (preemption).

A scheduler that preempts a job (a spot instance reclaimed, a SLURM time
limit, `scancel`) sends SIGTERM and, after a grace period, SIGKILL. Inside
`stop_on_signals()` such a signal does not kill the process: it is
recorded in the `StopRequest`, and `RunCheckpoint` finishes the running
step, writes a checkpoint there and raises `RunPreempted`; the job then
exits with `128 + signal number` (143 for SIGTERM, 130 for SIGINT, 138 for
SIGUSR1), the convention schedulers and shells read as "killed by it".
"""

import contextlib
import signal
import sys
import threading

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)


class RunPreempted(Exception):
    """A stop signal ended the run after its state was saved.

    Attributes:
        signum: the signal's number.
        exit_status: `128 + signum`.
        epoch, step: where the run stopped (`step` batches into `epoch`,
            both counted from 0 completed).
        checkpoint: the folder the state was saved to.
    """

    def __init__(self, signum, epoch, step, checkpoint):
        self.signum = signum
        self.exit_status = 128 + signum
        self.epoch, self.step, self.checkpoint = epoch, step, checkpoint
        name = signal.Signals(signum).name
        super().__init__(
            f"stopped by {name} after step {step} of epoch {epoch + 1}; the state is saved in "
            f"{checkpoint}: rerun the same command to resume")


class StopRequest:
    """The stop signal received, if any (`signum`: None until then)."""

    def __init__(self):
        self.signum = None

    @property
    def requested(self):
        return self.signum is not None


@contextlib.contextmanager
def stop_on_signals(signals=STOP_SIGNALS):
    """Within the block, the first of `signals` is recorded in the yielded
    `StopRequest` instead of ending the process (a later one while the
    state is saved is ignored with a message: the save is atomic, and a
    SIGKILL still ends the process); the previous handlers come back after
    the block. Outside the main thread, where Python cannot install
    handlers, the block runs with the request never set."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handle(signum, frame):
        del frame
        if request.signum is None:
            request.signum = signum
            print(f"keras_dsmae: got {signal.Signals(signum).name}: stopping after this step, "
                  f"once the state is saved", file=sys.stderr, flush=True)
        else:
            print(f"keras_dsmae: got {signal.Signals(signum).name} again: already stopping, "
                  f"the state is being saved", file=sys.stderr, flush=True)

    previous = {number: signal.signal(number, handle) for number in signals}
    try:
        yield request
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
