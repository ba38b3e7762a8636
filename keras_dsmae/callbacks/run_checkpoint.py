"""Crash-safe resumable checkpoints that never keep a diverged state."""

import json
import os
import re
import shutil
import tempfile
import warnings

import h5py
import keras

from keras_dsmae.models.file_upgrade import is_legacy_weights, legacy_message
from keras_dsmae.utils.atomic_write import atomic_path, remove_partials
from keras_dsmae.utils.callback_order import SAVES_STATE
from keras_dsmae.utils.finite import is_finite_number, non_finite_variables

WEIGHTS_FILE = "model.weights.h5"
STATE_FILE = "state.json"
_FOLDER = re.compile(r"^epoch_(\d+)$")


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

    Args:
        directory: folder of the checkpoints; created when missing.
        keep: how many of the newest checkpoints to keep (>= 1; 2 keeps a
            spare against disk damage).
        verbose: print one line when a run resumes.
        writes: keep the checkpoints it saves (default). A run of several
            processes passes False on all but the chief: every process
            restores from `directory` (on a shared file system) and saves
            (saving is collective), but only the chief's files are kept.

    Attributes:
        restored_epoch: epochs completed by the restored checkpoint (0: none).
        last_good_epoch: epochs completed by the newest checkpoint on disk.
        diverged: None, or a message saying at which epoch and why training
            was stopped.
    """

    epoch_end_stage = SAVES_STATE  # `DSMAE.fit` runs it after the log writers

    def __init__(self, directory, keep=2, verbose=True, writes=True):
        super().__init__()
        if not isinstance(keep, int) or isinstance(keep, bool) or keep < 1:
            raise ValueError(f"`keep` must be an integer >= 1; got keep={keep!r}.")
        self.directory = str(directory)
        self.keep = keep
        self.verbose = verbose
        self.writes = writes
        self.restored_epoch = 0
        self.last_good_epoch = 0
        self.diverged = None

    # ------------------------------------------------------------- restore
    def on_train_begin(self, logs=None):
        self.diverged = None
        if self.writes:
            remove_partials(self.directory)
        model = self.model
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        failures = []
        for epoch, folder in self.checkpoints():
            problem = self._try_restore(folder)
            if problem is None:
                self.restored_epoch = self.last_good_epoch = epoch
                model._initial_epoch = epoch  # what BackupAndRestore sets too
                if self.verbose:
                    print(f"resuming after epoch {epoch} from {folder}", flush=True)
                if failures:
                    warnings.warn(
                        "Skipped damaged checkpoint(s): " + "; ".join(failures)
                        + f". Resumed from {folder}.",
                        stacklevel=2,
                    )
                return
            failures.append(f"{folder}: {problem}")
        if failures:
            raise RuntimeError(
                "No checkpoint in "
                f"{self.directory} can be restored: " + "; ".join(failures)
                + ". Move the folder away to start the run over."
            )

    def checkpoints(self):
        """`(epoch, folder)` of the complete checkpoints, newest first."""
        if not os.path.isdir(self.directory):
            return []
        found = []
        for name in os.listdir(self.directory):
            match = _FOLDER.match(name)
            if match:
                found.append((int(match.group(1)), os.path.join(self.directory, name)))
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
                json.load(file)
            self.model.load_weights(os.path.join(folder, WEIGHTS_FILE))
        except Exception as error:  # h5py/JSON/Keras raise many kinds
            return f"{type(error).__name__}: {error}"
        bad = non_finite_variables(self._state_variables())
        if bad:
            return f"non-finite values in {len(bad)} variable(s), e.g. {bad[0]}"
        return None

    # ---------------------------------------------------------------- save
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

    def _stop(self, reason):
        self.diverged = reason
        self.model.stop_training = True

    def save(self, completed_epochs):
        """Write the state after `completed_epochs` epochs atomically (into
        a scratch folder that is then deleted, when `writes` is False)."""
        if not self.writes:
            with tempfile.TemporaryDirectory(prefix="keras_dsmae_not_chief_") as scratch:
                self.model.save_weights(os.path.join(scratch, WEIGHTS_FILE))
            return
        final = os.path.join(self.directory, f"epoch_{completed_epochs:04d}")
        with atomic_path(final) as partial:  # an epoch that is run again replaces its folder
            os.makedirs(partial)
            self.model.save_weights(os.path.join(partial, WEIGHTS_FILE))
            with open(os.path.join(partial, STATE_FILE), "w") as file:
                json.dump({"epoch": completed_epochs}, file)
        self.last_good_epoch = completed_epochs
        for _, old in self.checkpoints()[self.keep:]:
            shutil.rmtree(old, ignore_errors=True)

    def _state_variables(self):
        variables = list(self.model.weights)
        if self.model.optimizer is not None:
            variables += list(self.model.optimizer.variables)
        return variables
