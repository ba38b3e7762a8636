"""KerasTuner search: objective recorded per trial, best hyperparameters,
resume, argument checks, and a chief + two workers on loopback."""

import json
import os
import subprocess
import sys

import keras_tuner
import pytest

from keras_dsmae.tuning.hypermodel import OBJECTIVE, DSMAEHyperModel, validate_ranges
from keras_dsmae.tuning import search
from keras_dsmae.tuning.search import build_tuner, run_search
from tests.helpers.builders import TINY_JOB_AT_32
from tests.helpers.paths import REPO
from tuning.distributed_loopback import run_loopback

QUICK = dict(epochs=1, steps_per_epoch=2, batch_size=8, knn_reference_examples=32,
             knn_query_examples=16, use_synthetic_data=True, model_overrides=TINY_JOB_AT_32, verbose=0)


def test_bad_ranges_and_tuner_names_are_clear_errors():
    with pytest.raises(ValueError, match=r"mask_ratio.*0 < low < high < 1.*\(0.5, 1.0\)"):
        validate_ranges({"mask_ratio": (0.5, 1.0)})
    with pytest.raises(ValueError, match=r"ranges.*'dropout'"):
        validate_ranges({"dropout": (0.0, 0.1)})
    with pytest.raises(ValueError, match="noise_std"):
        validate_ranges({"noise_std": (0.3, 0.1)})
    with pytest.raises(ValueError, match=r"noise_std.*0.0 <= low < high.*\(0.2, 0.2\)"):
        validate_ranges({"noise_std": (0.2, 0.2)})  # the original knobs must span a range
    with pytest.raises(ValueError, match=r"model_overrides.*mask_ratio"):
        DSMAEHyperModel("dsmae_vit_tiny_cifar", None, None, model_overrides={"mask_ratio": 0.5})
    with pytest.raises(ValueError, match=r"tuner.*'grid'"):
        build_tuner(None, "grid", 1, 1, "unused", "unused", 0)


def test_hypermodel_uses_the_ranges():
    hypermodel = DSMAEHyperModel("dsmae_vit_tiny_cifar", None, None, ranges={"noise_std": (0.1, 0.2)},
                                 model_overrides=TINY_JOB_AT_32)
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    assert hp.get("noise_std") == pytest.approx(0.1)  # a Float's default is its lower bound
    assert model.get_config()["noise_std"] == pytest.approx(0.1)
    config = hp.get_config()["space"]
    bounds = {c["config"]["name"]: (c["config"]["min_value"], c["config"]["max_value"]) for c in config}
    assert bounds == {"noise_std": (0.1, 0.2), "mask_ratio": (0.5, 0.95), "loss_weight": (0.0, 2.0),
                      "loss_weight_warmup": (0.0, 0.5), "image_loss_weight": (0.0, 1.0),
                      "teacher_update_every": (1, 100), "feature_predictor_depth": (0, 2)}
    sampling = {c["config"]["name"]: c["config"]["sampling"] for c in config}
    assert sampling["teacher_update_every"] == "log" and sampling["feature_predictor_depth"] == "linear"


def test_the_teacher_knobs_and_the_masked_copies_are_searched_and_can_be_fixed():
    hypermodel = DSMAEHyperModel(
        "dsmae_vit_tiny_cifar", None, None, model_overrides=TINY_JOB_AT_32,
        ranges={"feature_predictor_depth": (1, 1), "teacher_update_every": (4, 4), "masks_per_image": (2, 3)})
    hp = keras_tuner.HyperParameters()
    hp.Float("image_loss_weight", 0.0, 1.0, default=0.25)
    hp.Float("loss_weight", 0.0, 2.0, default=1.0)  # a predictor needs the feature term
    model = hypermodel.build(hp)
    config = model.get_config()
    assert config["feature_predictor_depth"] == 1 and model.feature_predictor is not None
    assert config["teacher_update_every"] == 4
    assert config["masks_per_image"] == 2 == model.num_views  # an Int's default is its lower bound
    assert config["image_loss_weight"] == pytest.approx(0.25) and model.image_head is not None
    with pytest.raises(ValueError, match=r"teacher_update_every.*1 <= low <= high.*whole.*\(0, 5\)"):
        validate_ranges({"teacher_update_every": (0, 5)})
    with pytest.raises(ValueError, match=r"loss_weight_warmup.*< 1.0.*\(0.1, 1.0\)"):
        validate_ranges({"loss_weight_warmup": (0.1, 1.0)})
    with pytest.raises(ValueError, match=r"feature_predictor_depth.*whole.*\(0, 1.5\)"):
        validate_ranges({"feature_predictor_depth": (0, 1.5)})


def test_the_tune_command_takes_ranges_and_a_search_resumes_its_trials(tmp_path, monkeypatch):
    # The command in a subprocess (its flags, --epochs and so on, clash with
    # the pretraining command's in one process), then the Python API resumes
    # the same search with one more trial allowed.
    def tune(ranges):
        argv = [sys.executable, os.path.join(REPO, "tuning", "search.py"), "--use_synthetic_data",
                "--epochs=1", "--steps_per_epoch=2", "--batch_size=8", "--knn_reference_examples=32",
                "--knn_query_examples=16", "--max_trials=1", f"--directory={tmp_path}",
                f"--model_overrides={json.dumps(TINY_JOB_AT_32)}", f"--ranges={json.dumps(ranges)}"]
        return subprocess.run(argv, capture_output=True, text=True, cwd=REPO, timeout=600)

    ranges = {"loss_weight": [0.5, 1.0], "feature_predictor_depth": [1, 1]}
    done = tune(ranges)
    assert done.returncode == 0, done.stderr[-3000:]
    # A bad range is refused before any data is read (the command prints it and exits 1,
    # as every command does with a ValueError: tests/training/test_pretraining.py).
    with monkeypatch.context() as patched:
        def no_data(*args, **kwargs):
            raise AssertionError("the data was read before the ranges were checked")

        patched.setattr(search, "knn_datasets", no_data)
        with pytest.raises(ValueError, match=r"teacher_update_every"):
            run_search("cifar10", ranges={"teacher_update_every": (0, 4)}, **QUICK)

    [first] = keras_tuner.RandomSearch(
        DSMAEHyperModel("dsmae_vit_tiny_cifar", None, None, model_overrides=TINY_JOB_AT_32), objective=OBJECTIVE,
        directory=str(tmp_path), project_name="dsmae_cifar10", overwrite=False).oracle.trials.values()
    tuner = run_search("cifar10", tuner="random", max_trials=2, directory=str(tmp_path),
                       ranges={name: tuple(bounds) for name, bounds in ranges.items()}, **QUICK)
    trials = tuner.oracle.trials
    assert len(trials) == 2 and trials[first.trial_id].score == first.score  # kept, one added
    for trial in trials.values():
        assert trial.status == "COMPLETED" and 0.0 <= trial.score <= 1.0
        assert trial.metrics.exists("val_knn_accuracy")
        assert trial.hyperparameters.values["feature_predictor_depth"] == 1
        assert 0.5 <= trial.hyperparameters.values["loss_weight"] <= 1.0
        assert 0.0 <= trial.hyperparameters.values["noise_std"] <= 0.5  # the default ranges of the rest
        assert 0.5 <= trial.hyperparameters.values["mask_ratio"] <= 0.95
    best = tuner.get_best_hyperparameters(1)[0].values
    assert best == max(trials.values(), key=lambda t: t.score).hyperparameters.values
    assert (tmp_path / "dsmae_cifar10" / "objective.png").exists()


def test_a_ranges_flag_that_is_not_a_json_object_is_refused_naming_it():
    from absl import app

    from keras_dsmae.cli.common import parse_json_object

    assert parse_json_object('{"loss_weight": [0.5, 1.0]}', "ranges") == {"loss_weight": [0.5, 1.0]}
    for malformed in ("[1, 2]", "{loss_weight: 1}"):
        with pytest.raises(app.UsageError, match="--ranges must be a JSON object"):
            parse_json_object(malformed, "ranges")


@pytest.mark.slow
def test_distributed_search_with_a_chief_and_two_workers_on_loopback(tmp_path):
    args = ["--use_synthetic_data", "--epochs=1", "--steps_per_epoch=1", "--batch_size=8",
            "--knn_reference_examples=32", "--knn_query_examples=16",
            f"--model_overrides={json.dumps(TINY_JOB_AT_32)}"]
    results = run_loopback(str(tmp_path), workers=2, max_trials=2, search_args=args, timeout=600)
    for tuner_id, (code, output) in results.items():
        assert code == 0, f"{tuner_id} failed:\n{output[-3000:]}"
    assert "Best hyperparameters" in results["chief"][1]
    # every trial ran on a worker and was scored by the chief's oracle
    trial_dirs = [d for d in os.listdir(tmp_path / "dsmae_cifar10") if d.startswith("trial_")]
    assert len(trial_dirs) == 2
    scored = [json.loads((tmp_path / "dsmae_cifar10" / d / "trial.json").read_text())["score"] for d in trial_dirs]
    assert all(s is not None for s in scored)


@pytest.mark.parametrize("argument, value", [
    ("max_trials", 0), ("max_trials", -1), ("epochs", 0), ("steps_per_epoch", 0), ("batch_size", 0),
    ("knn_reference_examples", 0),
])
def test_bad_search_arguments_are_refused_before_any_trial(tmp_path, argument, value):
    options = {**QUICK, "max_trials": 1, argument: value}
    with pytest.raises(ValueError, match=rf"{argument}.*{value}"):
        run_search("cifar10", directory=str(tmp_path), **options)
    assert not (tmp_path / "dsmae_cifar10").exists()


def test_model_overrides_that_cannot_build_are_refused_before_any_trial():
    with pytest.raises(ValueError, match=r"encoder_dim.*encoder_heads"):
        DSMAEHyperModel("dsmae_vit_tiny_cifar", None, None, model_overrides={**TINY_JOB_AT_32, "encoder_heads": 3})


def test_a_search_whose_every_trial_failed_raises(tmp_path):
    from unittest import mock

    with mock.patch.object(DSMAEHyperModel, "fit", side_effect=RuntimeError("out of memory")):
        with pytest.raises(RuntimeError, match=r"(?s)all 2 trials failed.*out of memory"):
            run_search("cifar10", max_trials=2, directory=str(tmp_path), **QUICK)
