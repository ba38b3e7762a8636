"""`utils.atomic_write`: a write that fails half-way leaves the old file or
folder as it was, and no partial behind."""

import json
import os

import pytest

from keras_dsmae.utils.atomic_write import PARTIAL_PREFIX, atomic_path, remove_partials, write_json


def leftovers(folder):
    return [name for name in os.listdir(folder) if name.startswith(PARTIAL_PREFIX)]


def test_a_file_write_that_fails_half_way_keeps_the_old_file(tmp_path):
    path = tmp_path / "settings.json"
    write_json(path, {"epoch": 1})
    with pytest.raises(RuntimeError, match="disk went away"):
        with atomic_path(path) as partial:
            with open(partial, "w") as file:
                file.write('{"epo')  # torn, as a kill or a full disk would leave it
            raise RuntimeError("disk went away")
    assert json.loads(path.read_text()) == {"epoch": 1}
    assert leftovers(tmp_path) == []
    write_json(path, {"epoch": 2}, indent=2)
    assert json.loads(path.read_text()) == {"epoch": 2}


def test_a_folder_is_replaced_whole_and_keeps_its_suffix(tmp_path):
    final = tmp_path / "checkpoints" / "epoch_0001"
    for value in ("old", "new"):
        with atomic_path(final) as partial:
            assert partial.endswith(PARTIAL_PREFIX + "epoch_0001")
            os.makedirs(partial)
            with open(os.path.join(partial, f"{value}.txt"), "w") as file:
                file.write(value)
    assert os.listdir(final) == ["new.txt"]  # not a merge of the two
    assert leftovers(final.parent) == []


def test_an_empty_block_is_an_error_not_a_deleted_file(tmp_path):
    path = tmp_path / "encoder.keras"
    path.write_bytes(b"good")
    with pytest.raises(FileNotFoundError, match="nothing was written"):
        with atomic_path(path):
            pass
    assert path.read_bytes() == b"good"


def test_partials_left_by_a_killed_writer_are_removed(tmp_path):
    (tmp_path / (PARTIAL_PREFIX + "epoch_0002")).mkdir()
    (tmp_path / (PARTIAL_PREFIX + "history.csv")).write_text("epoch\n")
    (tmp_path / "epoch_0001").mkdir()
    remove_partials(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["epoch_0001"]
