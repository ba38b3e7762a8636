"""The method knob table (`keras_dsmae.models.method_knobs`): every knob is
checked, recorded and documented from its one entry, and a teacher target's
own knob (`target_layers`) reaches the model from a preset override and
from the tuner."""

import keras
import keras_tuner
import numpy as np
import pytest

import keras_dsmae
from keras_dsmae.models.method_knobs import method_knobs, tuned_ranges
from keras_dsmae.models.teacher_targets import TEACHER_TARGETS
from keras_dsmae.tuning.hypermodel import DSMAEHyperModel, validate_ranges
from tests.helpers.builders import TINY, structured_images, to_numpy

# A valid value other than the default for every knob, and what it needs.
NON_DEFAULT = {
    "mask_ratio": 0.5, "visible_rounding": "round", "noise_std": 0.1, "pixel_loss_weight": 0.5,
    "norm_pix_loss": False, "norm_pix_variance": "biased",
    "denoise_visible": True, "loss_weight": 0.7, "feature_loss": "mse", "feature_predictor_depth": 1,
    "teacher_target": "layer_average", "num_folds": 3, "target_layers": 1, "teacher_momentum": 0.99,
    "teacher_momentum_end": 0.999, "teacher_update_every": 3, "loss_weight_warmup": 0.2,
    "image_loss_weight": 0.3, "image_loss": "contrast", "contrast_weight": 0.1,
    "contrast_temperature": 0.5, "contrast_views": "crops", "seed": 7,
    "masking": "block", "mask_blocks": 2, "visible_blocks": 3, "masks_per_image": 2,
}
NEEDS = {"num_folds": {"teacher_target": "masked"}, "target_layers": {"teacher_target": "layer_average"},
         "mask_blocks": {"masking": "block"}, "visible_blocks": {"masking": "inverse_block"}}
LAYER_AVERAGE = dict(encoder_dim=32, encoder_heads=2, encoder_depth=3, decoder_dim=32, decoder_heads=2,
                     decoder_depth=1, seed=2)


def test_every_knob_survives_get_config_and_from_config():
    assert set(NON_DEFAULT) == set(method_knobs()), "give a new knob a non-default value here"
    for name, value in NON_DEFAULT.items():
        assert value != method_knobs()[name].default, name
        model = keras_dsmae.DSMAE(**TINY, **NEEDS.get(name, {}), **{name: value})
        config = model.get_config()
        assert config[name] == value, name
        assert keras_dsmae.DSMAE.from_config(config).get_config() == config, name


def test_the_table_documents_and_checks_each_knob():
    for name, knob in method_knobs().items():
        assert f"{name}: " in keras_dsmae.DSMAE.__doc__, name
        assert knob.check(name, knob.default) == knob.default, name
    with pytest.raises(ValueError, match=r"`noise_std` must be a finite number in \[0, inf\); got noise_std=-1"):
        keras_dsmae.DSMAE(**TINY, noise_std=-1)
    with pytest.raises(ValueError, match=r"feature_loss.*'cosine'.*got feature_loss='l1'"):
        keras_dsmae.DSMAE(**TINY, feature_loss="l1")
    assert set(tuned_ranges()) == {"mask_ratio", "noise_std", "loss_weight", "feature_predictor_depth",
                                   "teacher_update_every", "loss_weight_warmup", "image_loss_weight"}


def _targets(model):
    images = keras.ops.convert_to_tensor(structured_images(2, size=32))
    clean = keras.ops.cast(model.encoder.patchify(images), "float32")
    ids = np.tile(np.arange(16, 64, dtype="int32"), (2, 1))
    return to_numpy(model.teacher_target(model.teacher, clean, ids, 1))


def test_target_layers_reaches_the_layer_average_target_from_a_preset_override():
    one = keras_dsmae.DSMAE.from_preset("d2v_vit_tiny_cifar", **LAYER_AVERAGE, target_layers=1)
    every = keras_dsmae.DSMAE.from_preset("d2v_vit_tiny_cifar", **LAYER_AVERAGE, target_layers=3)
    default = keras_dsmae.DSMAE.from_preset("d2v_vit_tiny_cifar", **LAYER_AVERAGE)
    assert (one.teacher_target.num_layers, every.teacher_target.num_layers) == (1, 3)
    assert default.teacher_target.num_layers == 3  # the default 6, capped at the encoder's depth
    for model in (every, default):  # one teacher: only the averaged blocks differ
        model.set_weights(one.get_weights())
    assert np.abs(_targets(one) - _targets(every)).max() > 1e-2
    np.testing.assert_allclose(_targets(every), _targets(default), atol=1e-6)
    with pytest.raises(ValueError, match=r"target_layers.*3 blocks.*target_layers=4"):
        keras_dsmae.DSMAE.from_preset("d2v_vit_tiny_cifar", **LAYER_AVERAGE, target_layers=4)
    with pytest.raises(ValueError, match=r"`target_layers`=2 needs `teacher_target`='layer_average'"):
        keras_dsmae.DSMAE(**TINY, target_layers=2)


def test_target_layers_is_searched_when_a_search_names_it():
    overrides = {key: value for key, value in LAYER_AVERAGE.items() if key != "seed"}
    hypermodel = DSMAEHyperModel("d2v_vit_tiny_cifar", None, None, ranges={"target_layers": (2, 3)},
                                 model_overrides=overrides)
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    assert hp.get("target_layers") == 2 and model.teacher_target.num_layers == 2
    with pytest.raises(ValueError, match=r"ranges\['target_layers'\].*1 <= low <= high"):
        validate_ranges({"target_layers": (0, 2)})
    with pytest.raises(ValueError, match=r"ranges.*numeric knobs.*'teacher_target'"):
        validate_ranges({"teacher_target": (0, 1)})


def test_a_registered_target_brings_its_own_knob():
    from keras_dsmae.models.teacher_targets import FullImageTarget, register_teacher_target
    from keras_dsmae.utils.knob import Knob

    @register_teacher_target("scaled_full")
    class ScaledTarget(FullImageTarget):
        KNOBS = {"target_scale": Knob(1.0, "multiplies the targets.", low=0.0, low_open=True,
                                      part="teacher target", argument="scale")}

        def __init__(self, scale=1.0, **common):
            super().__init__(**common)
            self.scale = scale

    try:
        model = keras_dsmae.DSMAE(**TINY, teacher_target="scaled_full", target_scale=2.0)
        assert model.teacher_target.scale == 2.0 and model.get_config()["target_scale"] == 2.0
        with pytest.raises(ValueError, match="target_scale"):
            keras_dsmae.DSMAE(**TINY, teacher_target="scaled_full", target_scale=0.0)
        with pytest.raises(ValueError, match=r"knob names \['target_scale'\] are already another target's"):
            register_teacher_target("scaled_again")(type("Again", (ScaledTarget,), {}))
        assert "scaled_again" not in TEACHER_TARGETS
        register_teacher_target("scaled_full")(ScaledTarget)  # the same name again replaces it
    finally:
        del TEACHER_TARGETS["scaled_full"]
    assert "target_scale" not in method_knobs()


def test_the_old_name_teacher_view_still_selects_the_target():
    model = keras_dsmae.DSMAE(**TINY, teacher_view="masked", num_folds=2)
    config = model.get_config()
    assert config["teacher_target"] == "masked" and "teacher_view" not in config
    # over a preset that sets the new name (the dsmae_* presets: layer_average)
    preset = keras_dsmae.DSMAE.from_preset("dsmae_vit_tiny_cifar", **TINY, teacher_view="full")
    assert preset.get_config()["teacher_target"] == "full"
    with pytest.raises(ValueError, match=r"`teacher_view` is the old name of `teacher_target`.*'full'.*'masked'"):
        keras_dsmae.DSMAE(**TINY, teacher_view="full", teacher_target="masked")


def test_a_new_loss_term_is_one_registered_class_reachable_from_presets_and_the_tuner():
    from keras_dsmae.losses.terms import LOSS_TERMS, LossTerm, register_loss_term
    from keras_dsmae.utils.knob import Knob

    @register_loss_term("pixel_l1")
    class PixelL1Term(LossTerm):
        """Mean absolute error of the pixel predictions on the masked patches."""

        WEIGHT = "pixel_l1_weight"
        KNOBS = {"pixel_l1_weight": Knob(0.0, "weight of the L1 pixel term (0: off).", low=0.0,
                                         part="L1 pixel term"),
                 "pixel_l1_scale": Knob(1.0, "divides the error.", low=0.0, low_open=True,
                                        part="L1 pixel term", argument="scale")}

        def __init__(self, weight, scale=1.0, **kwargs):
            super().__init__(weight, "pixel_l1_loss", **kwargs)
            self.scale = scale

        def compute(self, inputs):
            error = keras.ops.abs(inputs.outputs["pixels"] - inputs.clean_patches) / self.scale
            mask = inputs.outputs["mask"]
            return keras.ops.sum(keras.ops.mean(error, -1) * mask) / keras.ops.sum(mask)

    try:
        model = keras_dsmae.DSMAE.from_preset("mae_vit_tiny_cifar", **TINY, pixel_l1_weight=0.5,
                                              pixel_l1_scale=2.0, seed=1)
        term = model.loss_terms[-1]
        assert (type(term), term.weight, term.scale) == (PixelL1Term, 0.5, 2.0)
        assert model.teacher is None  # it does not learn from the teacher
        config = model.get_config()
        assert (config["pixel_l1_weight"], config["pixel_l1_scale"]) == (0.5, 2.0)
        assert keras_dsmae.DSMAE.from_config(config).get_config() == config
        assert "pixel_l1_weight: weight of the L1 pixel term" in method_knobs_docs()
        model.compile(optimizer=keras.optimizers.AdamW(1e-3))
        history = model.fit(structured_images(4), batch_size=2, epochs=1, verbose=0)
        assert np.isfinite(history.history["pixel_l1_loss"][0]) and history.history["pixel_l1_loss"][0] > 0

        hypermodel = DSMAEHyperModel("mae_vit_tiny_cifar", None, None, ranges={"pixel_l1_weight": (0.2, 0.4)},
                                     model_overrides={k: v for k, v in TINY.items() if k != "seed"})
        hp = keras_tuner.HyperParameters()
        searched = hypermodel.build(hp)
        assert 0.2 <= hp.get("pixel_l1_weight") <= 0.4
        assert searched.loss_terms[-1].weight == hp.get("pixel_l1_weight")
        with pytest.raises(ValueError, match=r"`pixel_l1_scale` must be .*got pixel_l1_scale=0"):
            keras_dsmae.DSMAE(**TINY, pixel_l1_scale=0.0)
        with pytest.raises(ValueError, match=r"knob names \['pixel_l1_scale', 'pixel_l1_weight'\] are already another term's"):
            register_loss_term("pixel_l1_again")(type("Again", (PixelL1Term,), {}))
        assert "pixel_l1_again" not in LOSS_TERMS
    finally:
        del LOSS_TERMS["pixel_l1"]
    assert "pixel_l1_weight" not in method_knobs()
    with pytest.raises(ValueError, match="pixel_l1_weight"):
        keras_dsmae.DSMAE(**TINY, pixel_l1_weight=0.5)


def method_knobs_docs():
    from keras_dsmae.models.method_knobs import knob_docs

    return " ".join(knob_docs().split())
