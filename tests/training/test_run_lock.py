"""The run folder's lock on its own (the job's use of it: tests/training/test_run_safety.py)."""

import json
import os

import pytest

from keras_dsmae.training.run_lock import LOCK_FILE, RunLocked, run_lock


def test_the_lock_is_held_while_the_body_runs_and_released_on_an_error(tmp_path):
    with pytest.raises(RuntimeError, match="inside"):
        with run_lock(str(tmp_path)):
            holder = json.loads((tmp_path / LOCK_FILE).read_text())
            assert holder["pid"] == os.getpid() and holder["host"] and holder["started"]
            with pytest.raises(RunLocked, match=rf"process {os.getpid()} on this host"):
                with run_lock(str(tmp_path)):  # a second job of the same live process
                    pass
            raise RuntimeError("inside")
    assert not (tmp_path / LOCK_FILE).exists()
    with run_lock(str(tmp_path), enabled=False):  # a process that does not write the folder
        assert not (tmp_path / LOCK_FILE).exists()


def test_a_half_written_lock_is_taken_over_and_another_holders_lock_is_not_removed(tmp_path):
    (tmp_path / LOCK_FILE).write_text('{"host": "h", "pi')  # its writer was killed mid-write
    with pytest.warns(UserWarning, match="taking over an unreadable lock"):
        with run_lock(str(tmp_path)):
            replaced = {"host": "h", "pid": 1, "started": "then"}  # someone deleted ours and took it
            (tmp_path / LOCK_FILE).write_text(json.dumps(replaced))
    assert json.loads((tmp_path / LOCK_FILE).read_text()) == replaced
