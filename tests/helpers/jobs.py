"""A tiny run of the pretraining job, and what tests read back from one."""

import csv
import os
import shutil
import tempfile

import keras

from keras_dsmae.training import PretrainingConfig, run_pretraining
from tests.helpers.builders import TINY_JOB_AT_32

STEPS = 2  # steps per epoch of `pretrain`


def pretrain(output_dir, epochs, extra_callbacks=(), **settings):
    """A tiny run of the job on generated CIFAR-10, made as a `PretrainingConfig`.

    Args:
        output_dir: the run's folder.
        epochs: the run's total epochs (a rerun resumes up to it).
        extra_callbacks: Keras callbacks added to the job's own.
        **settings: any `PretrainingConfig` field, over the tiny defaults.

    Returns:
        `(model, history)` as `run_pretraining` returns them.
    """
    config = PretrainingConfig(**{
        **dict(dataset="cifar10", output_dir=str(output_dir), epochs=epochs, steps_per_epoch=STEPS,
               batch_size=8, warmup_epochs=1, model_overrides=TINY_JOB_AT_32, use_synthetic_data=True,
               synthetic_examples=64, reconstruction_every=2, mixed_precision="float32"),
        **settings,
    })
    return run_pretraining(config, extra_callbacks=extra_callbacks, verbose=0)


_FINISHED_RUNS = {}  # epochs -> a run folder of this process, trained once


def finished_run(output_dir, epochs):
    """A copy in `output_dir` of a finished `pretrain(..., epochs=epochs)`
    with the default settings: what a rerun finds after the first run ended.
    Each test process trains each length once (`run_config.json` records
    no folder, so a copy resumes as the original would).

    Returns:
        `output_dir`.
    """
    if epochs not in _FINISHED_RUNS:
        folder = os.path.join(tempfile.mkdtemp(prefix="keras_dsmae_finished_run_"), "run")
        pretrain(folder, epochs=epochs)
        _FINISHED_RUNS[epochs] = folder
    shutil.copytree(_FINISHED_RUNS[epochs], output_dir, dirs_exist_ok=True)
    return output_dir


def history_rows(output_dir):
    """`history.csv` of a run, one dict per epoch."""
    with open(os.path.join(output_dir, "history.csv"), newline="") as file:
        return list(csv.DictReader(file))


class StopAtEpoch(keras.callbacks.Callback):
    """Stands in for a kill: interrupt `fit` when epoch `epoch` begins."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt("killed")


# 8 steps; the student sees two block-masked copies of each image (their
# random streams are checkpointed like the single mask's)
PREEMPTION_JOB = dict(epochs=2, steps_per_epoch=4, checkpoint_every_steps=3,
                      model_overrides={**TINY_JOB_AT_32, "masks_per_image": 2, "masking": "block"})


def pretrain_steps(output_dir, extra_callbacks=()):
    """The run the preemption tests interrupt: `pretrain` of `PREEMPTION_JOB`."""
    return pretrain(output_dir, extra_callbacks=extra_callbacks, **PREEMPTION_JOB)


class StepLog(keras.callbacks.Callback):
    """Append `global_step loss` after every batch to `path` (the global
    step read from the optimizer, so a resumed run numbers on), and, with
    `stop_at=(step, signal)`, send the process that signal after that step."""

    def __init__(self, path, stop_at=None):
        super().__init__()
        self.path, self.stop_at = path, stop_at

    def on_train_batch_end(self, batch, logs=None):
        if hasattr(self.model, "jax_state_sync"):
            self.model.jax_state_sync()
        step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        with open(self.path, "a") as file:
            file.write(f"{step} {float(logs['loss']):.9g}\n")
        if self.stop_at is not None and step == self.stop_at[0]:
            os.kill(os.getpid(), self.stop_at[1])


def step_log(path):
    """`[(global step, loss)]` of a `StepLog` file (empty when missing)."""
    if not os.path.exists(path):
        return []
    with open(path) as file:
        return [(int(step), float(loss)) for step, loss in (line.split() for line in file)]
