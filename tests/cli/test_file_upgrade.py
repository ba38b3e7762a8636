"""Files written by keras_dsmae 0.1 (tests/fixtures/legacy_0_2: a tiny DSD-MAE
and MAE after one training step, saved with 0.1.0) are refused with the
command that converts them, and load with every value after conversion."""

import json
import os
import shutil
import zipfile

import keras
import numpy as np
import pytest

import keras_dsmae
from keras_dsmae.cli import upgrade
from keras_dsmae.models.file_upgrade import upgrade_file
from tests.helpers.builders import to_numpy
from tests.helpers.paths import FIXTURES

LEGACY = os.path.join(FIXTURES, "legacy_0_2")


def _legacy_copy(tmp_path, name):
    path = str(tmp_path / f"{name}.keras")
    shutil.copyfile(os.path.join(LEGACY, f"{name}.keras"), path)
    return path


def _expected(name):
    """`{variable name: (sum, sum of abs)}` as saved by 0.1.0; the 0.1
    `dsmae/teacher/...` is `teacher/...` under the EMATeacher now."""
    with open(os.path.join(LEGACY, f"{name}_expected.json")) as file:
        weights = json.load(file)["weights"]
    return {path.split("/", 1)[1]: values[:2] for path, values in weights.items()}


def _current(model):
    named = {}
    for variable in model.weights:
        path = variable.path.split("/", 1)[1] if variable.path.startswith(model.name) else variable.path
        path = path.replace("ema_teacher/", "")
        value = to_numpy(variable)
        named[path] = [float(np.sum(value)), float(np.sum(np.abs(value)))]
    return named


@pytest.mark.parametrize("name", ["dsmae", "mae"])
def test_a_legacy_keras_file_is_refused_then_converted_with_every_value(tmp_path, name):
    path = _legacy_copy(tmp_path, name)
    with pytest.raises(ValueError, match=r"keras_dsmae 0\.1.*python -m keras_dsmae\.cli\.upgrade"):
        keras.models.load_model(path)
    assert upgrade_file(path) is True
    assert os.path.exists(path + ".v0_1")
    assert upgrade_file(path) is False  # already current
    model = keras.models.load_model(path)
    assert model.jit_compile is (keras.backend.backend() == "jax")  # the file's True was JAX's "auto"
    expected, current = _expected(name), _current(model)
    if name == "mae":  # 0.1 kept teacher-schedule variables even without a teacher
        expected = {k: v for k, v in expected.items() if "momentum" not in k and "ema_step" not in k}
    assert set(expected) <= set(current)
    for variable, values in expected.items():
        np.testing.assert_allclose(current[variable], values, rtol=1e-6, atol=1e-6, err_msg=variable)
    if name == "dsmae":
        assert int(to_numpy(model.ema_teacher.step)) == 2
        assert float(to_numpy(model.ema_teacher.total_steps)) == 10
    assert int(to_numpy(model.optimizer.iterations)) == 2
    images = np.random.RandomState(0).normal(size=(4, 8, 8, 3)).astype("float32")
    history = model.fit(images, batch_size=2, epochs=1, verbose=0,
                        callbacks=[keras_dsmae.callbacks.TeacherEMA(total_steps=10)] if name == "dsmae" else [])
    assert np.isfinite(history.history["loss"][0])


def test_a_run_folder_with_legacy_checkpoints_says_how_to_convert_and_resumes_after(tmp_path, capsys):
    run = tmp_path / "run"
    folder = run / "checkpoints" / "epoch_0001"
    folder.mkdir(parents=True)
    with zipfile.ZipFile(os.path.join(LEGACY, "dsmae.keras")) as archive:
        (folder / "model.weights.h5").write_bytes(archive.read("model.weights.h5"))
        config = json.loads(archive.read("config.json"))
    (folder / "state.json").write_text(json.dumps({"epoch": 1}))
    model = keras_dsmae.DSMAE.from_config(config["config"])
    model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    images = np.random.RandomState(0).normal(size=(4, 8, 8, 3)).astype("float32")
    fit = dict(batch_size=2, epochs=2, verbose=0)
    with pytest.raises(ValueError, match=rf"{run}.*keras_dsmae 0\.1.*cli\.upgrade {run}"):
        model.fit(images, callbacks=[keras_dsmae.callbacks.RunCheckpoint(run / "checkpoints"),
                                     keras_dsmae.callbacks.TeacherEMA(total_steps=10)], **fit)

    assert upgrade.main([str(run)]) == 0
    assert "converted" in capsys.readouterr().out
    checkpoint = keras_dsmae.callbacks.RunCheckpoint(run / "checkpoints")
    model.fit(images, callbacks=[checkpoint, keras_dsmae.callbacks.TeacherEMA(total_steps=10)], **fit)
    assert checkpoint.restored_epoch == 1 and checkpoint.last_good_epoch == 2
    assert upgrade.main([str(tmp_path / "missing")]) == 1
