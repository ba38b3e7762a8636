"""Crash-safe resumable checkpoints, at epoch ends and within epochs, that
never keep a diverged state."""

import json
import os
import re
import shutil
import tempfile
import time
import warnings

import h5py
import keras

from keras_dsmae.callbacks import loop_state
from keras_dsmae.models.file_upgrade import is_legacy_weights, legacy_message
from keras_dsmae.utils import validation
from keras_dsmae.utils.atomic_write import WriteFailed, atomic_path, remove_partials
from keras_dsmae.utils.callback_order import SAVES_STATE
from keras_dsmae.utils.distribution import largest_over_processes, process_count
from keras_dsmae.utils.finite import is_finite_number, non_finite_variables
from keras_dsmae.utils.stop_signals import RunPreempted

WEIGHTS_FILE = "model.weights.h5"
STATE_FILE = "state.json"
_FOLDER = re.compile(r"^epoch_(\d+)(?:_step_(\d+))?$")


def checkpoint_name(completed_epochs, step=0):
    """`epoch_NNNN` (an epoch's end), or `epoch_NNNN_step_SSSSSS`: `step`
    batches into the epoch after `completed_epochs`."""
    return f"epoch_{completed_epochs:04d}" + (f"_step_{step:06d}" if step else "")


def _size_mib(folder):
    return sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(folder)
               for name in names) / 1024**2


def _is_legacy(weights_path):
    try:
        with h5py.File(weights_path, "r") as store:
            return is_legacy_weights(store)
    except Exception:  # unreadable: judged (and skipped) as damaged by the restore
        return False


class TrainingDiverged(RuntimeError):
    """Training produced non-finite weights or losses; nothing of it was kept."""


class RunCheckpoint(keras.callbacks.Callback):
    """Save the whole training state after every epoch; resume from it.

    A drop-in for `keras.callbacks.BackupAndRestore` that a kill at any
    moment cannot break, and that never keeps a diverged state:

    - Each checkpoint is a folder `epoch_NNNN/` (weights of the model, its
      optimizer and teacher, and `state.json` with the epoch). It is written
      under a temporary name and renamed when complete, so a folder with a
      final name is always whole. The `keep` newest are kept.
    - At the start of `fit` the newest checkpoint that loads and holds only
      finite numbers is restored, and `fit` continues after its epoch. A
      damaged one is skipped with a warning that names it.
    - At an epoch's end the state is saved only when every weight and the
      epoch's loss are finite. Otherwise nothing is written, training stops,
      and `diverged` describes what happened (`TrainingDiverged` is raised
      by the pretraining job, not here, so other callbacks still run).

    Within an epoch it also saves every `every_steps` batches and every
    `every_minutes` minutes (folders `epoch_NNNN_step_SSSSSS`, `SSSSSS`
    batches into the epoch after `NNNN`), and when a stop signal arrives
    (`stop_request`, see `keras_dsmae.utils.stop_signals`): then it saves
    after the running batch and raises `RunPreempted`. Each checkpoint also
    records the random streams of the model's layers, so that training
    continues with the masks and noise it would have drawn. A mid-epoch
    checkpoint is continued exactly by `keras_dsmae.training.fit_resumable`
    (the pretraining job uses it); a plain `fit` restores it but runs its
    epoch again from the start, with a warning.

    Args:
        directory: folder of the checkpoints; created when missing.
        keep: how many of the newest checkpoints to keep (>= 1; 2 keeps a
            spare against disk damage).
        verbose: print one line when a run resumes.
        writes: keep the checkpoints it saves (default). A run of several
            processes passes False on all but the chief: every process
            restores from `directory` (on a shared file system) and saves
            (saving is collective), but only the chief's files are kept.
        every_steps: also save every this many batches of an epoch (None: not
            by steps).
        every_minutes: also save when this many minutes passed since the
            last save (None: not by time).
        stop_request: a `StopRequest` (from `stop_on_signals()`); None: no
            signal handling.
        agree_every: with several processes, how often (in batches) they
            agree on a stop signal or a timed save, so that all save at
            the same step.

    Attributes:
        restored_epoch, restored_step: the position of the restored
            checkpoint (epochs completed, batches into the next; 0, 0: none).
        last_good_epoch: epochs completed by the newest checkpoint on disk.
        diverged: None, or a message saying at which epoch and why training
            was stopped.
        restore_on_train_begin: restore at the start of each `fit` (set to
            False by a caller that called `restore()` itself).
    """

    epoch_end_stage = SAVES_STATE  # `DSMAE.fit` runs it after the log writers

    def __init__(self, directory, keep=2, verbose=True, writes=True, every_steps=None,
                 every_minutes=None, stop_request=None, agree_every=10):
        super().__init__()
        if not isinstance(keep, int) or isinstance(keep, bool) or keep < 1:
            raise ValueError(f"`keep` must be an integer >= 1; got keep={keep!r}.")
        if every_steps is not None:
            validation.check_int("every_steps", every_steps, minimum=1)
        if every_minutes is not None:
            validation.check_float("every_minutes", every_minutes, low=0.0, low_open=True)
        validation.check_int("agree_every", agree_every, minimum=1)
        self.directory = str(directory)
        self.keep = keep
        self.verbose = verbose
        self.writes = writes
        self.every_steps = every_steps
        self.every_minutes = every_minutes
        self.stop_request = stop_request
        self.agree_every = agree_every
        self.restored_epoch = self.restored_step = 0
        self.last_good_epoch = 0
        self.diverged = None
        self.restore_on_train_begin = True
        self._resumed_state = None
        self._epoch, self._offset, self._stop_at_epoch_end, self._stop_signal = 0, 0, False, None
        self._last_save = time.monotonic()

    # ------------------------------------------------------------- restore
    def on_train_begin(self, logs=None):
        self.diverged = None
        self._last_save = time.monotonic()
        if self.restore_on_train_begin:
            self.restore()

    def restore(self):
        """Load the newest checkpoint that loads and holds only finite
        numbers into the model (built, compiled); a damaged one is skipped
        with a warning, and `RuntimeError` when none is left.

        Returns:
            `(epochs completed, batches into the next epoch)` of the
            restored checkpoint; `(0, 0)` when there is none.
        """
        if self.writes:
            remove_partials(self.directory)
        model = self.model
        optimizer = getattr(model, "optimizer", None)  # an uncompiled model loads the weights alone
        if optimizer is not None and not optimizer.built:
            optimizer.build(model.trainable_variables)
        failures = []
        for (epoch, step), folder in self.checkpoints():
            problem = self._try_restore(folder)
            if problem is None:
                self.restored_epoch, self.restored_step = epoch, step
                self.last_good_epoch = epoch
                model._initial_epoch = epoch  # what BackupAndRestore sets too
                if self.verbose:
                    where = f"step {step} of epoch {epoch + 1}" if step else f"epoch {epoch}"
                    print(f"resuming after {where} from {folder}", flush=True)
                if failures:
                    warnings.warn(
                        "Skipped damaged checkpoint(s): " + "; ".join(failures)
                        + f". Resumed from {folder}.",
                        stacklevel=2,
                    )
                return epoch, step
            failures.append(f"{folder}: {problem}")
        if failures:
            raise RuntimeError(
                "No checkpoint in "
                f"{self.directory} can be restored: " + "; ".join(failures)
                + ". Move the folder away to start the run over."
            )
        return 0, 0

    def checkpoints(self):
        """`((epochs, step), folder)` of the complete checkpoints, newest first."""
        if not os.path.isdir(self.directory):
            return []
        found = []
        for name in os.listdir(self.directory):
            match = _FOLDER.match(name)
            if match:
                position = (int(match.group(1)), int(match.group(2) or 0))
                found.append((position, os.path.join(self.directory, name)))
        return sorted(found, reverse=True)

    def _try_restore(self, folder):
        """Load `folder` into the model; a string saying why not, or None.
        A checkpoint of keras_dsmae 0.1 raises a `ValueError` that says how
        to convert it (it is not damaged, and must not be skipped)."""
        weights = os.path.join(folder, WEIGHTS_FILE)
        if _is_legacy(weights):
            raise ValueError(legacy_message(os.path.dirname(self.directory.rstrip(os.sep)) or self.directory))
        try:
            with open(os.path.join(folder, STATE_FILE)) as file:
                state = json.load(file)
            if not isinstance(state, dict):
                raise ValueError(f"{STATE_FILE} holds {type(state).__name__}, not an object")
            self.model.load_weights(os.path.join(folder, WEIGHTS_FILE))
            loop_state.set_seed_states(self.model, state.get("seed_states", {}))
        except Exception as error:  # h5py/JSON/Keras raise many kinds
            return f"{type(error).__name__}: {error}"
        bad = non_finite_variables(self._state_variables())
        if bad:
            return f"non-finite values in {len(bad)} variable(s), e.g. {bad[0]}"
        self._resumed_state = state
        return None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._offset, self._stop_at_epoch_end = epoch, 0, False
        state, self._resumed_state = self._resumed_state, None
        if not state or not state.get("step") or epoch != state.get("epoch"):
            return
        step, recorded = state["step"], state.get("steps_per_epoch")
        if recorded is not None and self.params.get("steps") == recorded - step:
            self._offset = step  # `fit_resumable` runs the rest of the epoch
            try:
                loop_state.set_metric_values(self.model, state.get("metrics", []))
            except Exception as error:  # e.g. metrics of another kind
                warnings.warn(f"The resumed epoch's logged means cover only its steps after the resume: "
                              f"the saved metric state does not fit ({error}).", stacklevel=2)
            return
        warnings.warn(
            f"The restored checkpoint is {step} steps into epoch {epoch + 1}, but this fit runs that "
            f"epoch from its start, so those steps are trained twice; "
            f"keras_dsmae.training.fit_resumable continues at the step.", stacklevel=2)

    # ---------------------------------------------------------------- save
    def on_train_batch_end(self, batch, logs=None):
        step = self._offset + batch + 1
        last_of_epoch = batch + 1 == self.params.get("steps")
        signum, timed = self._signal_received(), self._minutes_passed()
        if process_count() > 1:  # every process must save at the same step, on any one's signal
            if step % self.agree_every and not last_of_epoch:
                signum, timed = 0, False  # (saves by steps are at the same step everywhere)
            else:
                signum, timed = largest_over_processes(signum), largest_over_processes(timed)
        stop = self._stop_signal = signum or None
        if last_of_epoch:  # the epoch's own checkpoint follows
            self._stop_at_epoch_end = stop
            return
        by_steps = self.every_steps is not None and step % self.every_steps == 0
        if not (stop or timed or by_steps):
            return
        folder = self._save_if_finite(self._epoch, step, logs)
        if stop:
            self._raise_preempted(step, folder)

    def on_epoch_end(self, epoch, logs=None):
        completed = epoch + 1
        loss = (logs or {}).get("loss")
        if loss is not None and not is_finite_number(loss):
            self._stop(f"epoch {completed} ended with loss {loss}")
            return
        bad = non_finite_variables(self._state_variables())
        if bad:
            self._stop(f"after epoch {completed}, {len(bad)} variable(s) hold non-finite values, e.g. {bad[0]}")
            return
        self.save(completed)
        if self._stop_at_epoch_end:
            self._raise_preempted(self._offset + self.params.get("steps", 0),
                                  os.path.join(self.directory, checkpoint_name(completed)))

    def _signal_received(self):
        """The stop signal's number, or 0."""
        return self.stop_request.signum or 0 if self.stop_request is not None else 0

    def _minutes_passed(self):
        return self.every_minutes is not None and time.monotonic() - self._last_save >= 60 * self.every_minutes

    def _raise_preempted(self, step, folder):
        raise RunPreempted(self._stop_signal, self._epoch, step, folder)

    def _save_if_finite(self, epoch, step, logs):
        """Save `step` batches into `epoch` unless the loss or a weight is
        non-finite (then the newest good checkpoint stays the last state,
        and `TerminateOnNaN` or the epoch's end stops the run). Returns the
        newest good checkpoint's folder (None: there is none)."""
        self._sync()
        loss = (logs or {}).get("loss")
        if (loss is None or is_finite_number(loss)) and not non_finite_variables(self._state_variables()):
            self.save(epoch, step)
        newest = self.checkpoints()
        return newest[0][1] if newest else None

    def _stop(self, reason):
        self.diverged = reason
        self.model.stop_training = True

    def save(self, completed_epochs, step=0):
        """Write the state after `completed_epochs` epochs and `step` batches
        of the next atomically (into a scratch folder that is then deleted,
        when `writes` is False)."""
        model = self.model
        self._sync()
        state = {"epoch": completed_epochs, "step": step,
                 "steps_per_epoch": self._offset + self.params.get("steps", 0) if self.params else None,
                 "seed_states": loop_state.seed_states(model)}
        if step:
            state["metrics"] = loop_state.metric_values(model)
        self._last_save = time.monotonic()
        if not self.writes:
            with tempfile.TemporaryDirectory(prefix="keras_dsmae_not_chief_") as scratch:
                model.save_weights(os.path.join(scratch, WEIGHTS_FILE))
            return
        final = os.path.join(self.directory, checkpoint_name(completed_epochs, step))
        try:
            with atomic_path(final) as partial:  # an epoch that is run again replaces its folder
                os.makedirs(partial)
                model.save_weights(os.path.join(partial, WEIGHTS_FILE))
                with open(os.path.join(partial, STATE_FILE), "w") as file:
                    json.dump(state, file)
        except WriteFailed as failure:
            newest = self.checkpoints()
            raise WriteFailed(final, failure.error, (
                f"The newest whole checkpoint, {newest[0][1]}, is intact: make room (a checkpoint "
                f"takes {_size_mib(newest[0][1]):.1f} MiB) and rerun the same command to resume from it."
                if newest else "No checkpoint was written yet: make room and rerun the same command.")) from None
        if not step:
            self.last_good_epoch = completed_epochs
        for _, old in self.checkpoints()[self.keep:]:
            shutil.rmtree(old, ignore_errors=True)

    def _sync(self):
        """Mid-epoch, JAX's `fit` keeps the state outside the variables."""
        if hasattr(self.model, "jax_state_sync"):
            self.model.jax_state_sync()

    def _state_variables(self):
        variables = list(self.model.weights)
        if getattr(self.model, "optimizer", None) is not None:
            variables += list(self.model.optimizer.variables)
        return variables
