"""`PretrainingConfig`: one declaration gives the flags, the checks, the
docs and the run record of the pretraining job."""

import dataclasses
import re

import pytest
from absl import flags

from keras_dsmae.data import Normalization
from keras_dsmae.training.pretraining_config import PretrainingConfig
from keras_dsmae.utils.settings import define_flags, flag_fields, from_flags
from tests.helpers.paths import REPO

FIELDS = dataclasses.fields(PretrainingConfig)


def parsed(*argv):
    flag_values = flags.FlagValues()
    define_flags(PretrainingConfig, flag_values=flag_values)
    flag_values(["keras-dsmae-pretrain", *argv])
    return flag_values


def test_every_setting_has_a_flag_with_its_help_and_default():
    flag_values = parsed()
    assert [f.name for f in flag_fields(PretrainingConfig)] == [f.name for f in FIELDS]
    for field in FIELDS:
        flag = flag_values[field.name]
        assert flag.help.endswith(field.metadata["help"])  # enums: after their choices
        if field.metadata.get("parse") is None:
            assert flag.default == field.default, field.name
    assert from_flags(PretrainingConfig, flag_values) == PretrainingConfig()


def test_flags_give_the_same_config_as_the_python_api():
    flag_values = parsed(
        "--dataset=cifar10", "--epochs=3", "--image_size=32", "--normalization=imagenet",
        '--model_overrides={"encoder_depth": 2}', "--mask_ratio=0.5", "--augment_on=host",
        "--use_synthetic_data", "--knn_every=2",
    )
    from_command_line = from_flags(PretrainingConfig, flag_values)
    assert from_command_line == PretrainingConfig(
        dataset="cifar10", epochs=3, image_size=(32, 32), mask_ratio=0.5, augment_on="host",
        normalization=Normalization((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
        model_overrides={"encoder_depth": 2}, use_synthetic_data=True, knn_every=2,
    )
    assert from_command_line.image_size == (32, 32)  # checked and normalised from --image_size=32
    assert from_command_line.model_settings() == {"mask_ratio": 0.5, "encoder_depth": 2}


@pytest.mark.parametrize("argv, named", [
    (['--model_overrides=[1]'], "--model_overrides must be a JSON object"),
    (["--normalization=0.5/0.2,0.2"], "--normalization must be 'imagenet'"),
])
def test_a_malformed_flag_is_refused_naming_it(argv, named):
    with pytest.raises(ValueError, match=named):
        from_flags(PretrainingConfig, parsed(*argv))


@pytest.mark.parametrize("settings, named", [
    (dict(epochs=0), "epochs"),
    (dict(batch_size=2.5), "batch_size"),
    (dict(learning_rate=0.0), "learning_rate"),
    (dict(augment_on="gpu"), "augment_on"),
    (dict(preset="vit_huge"), "preset"),
    (dict(model_overrides=[("encoder_depth", 2)]), "model_overrides"),
    (dict(knn_every=1, dataset="tfds:mnist"), "knn_every"),
    (dict(use_synthetic_data="yes"), "use_synthetic_data"),
])
def test_a_bad_setting_is_refused_when_the_config_is_made(settings, named):
    with pytest.raises(ValueError, match=named):
        PretrainingConfig(**settings)


def test_the_record_holds_the_recorded_settings_and_the_docs_name_every_field():
    config = PretrainingConfig(dataset="cifar10", epochs=7, data_dir="/somewhere")
    record = config.recorded()
    assert record["dataset"] == "cifar10" and record["epochs"] == 7
    assert "data_dir" not in record and "output_dir" not in record  # where, not what
    assert config.run_folder.endswith("cifar10_default")
    for field in FIELDS:
        assert f"    {field.name} (`--{field.name}`): " in PretrainingConfig.__doc__


def test_the_flag_table_of_the_commands_page_names_every_flag_and_no_other():
    # The table of pretraining flags (examples/README.md) is written by hand:
    # it may word them its own way, but not miss one or keep one that is gone.
    with open(f"{REPO}/examples/README.md", encoding="utf-8") as file:
        readme = file.read()
    table = readme[readme.index("| `--dataset` | the script's"):]
    table = table[: table.index("\n\n")]
    named = set(re.findall(r"`--([a-z_]+)`", table))
    assert named == {field.name for field in FIELDS}, (
        f"missing from the README table: {sorted({f.name for f in FIELDS} - named)}; "
        f"not flags: {sorted(named - {f.name for f in FIELDS})}")
