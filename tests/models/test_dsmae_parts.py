"""`DSMAE` composed from built parts (keras-hub style): it trains, every
part survives `get_config` and a `.keras` file, a trained encoder handed in
is kept, and parts that do not fit are refused naming the part."""

import json
import os

import keras
import numpy as np
import pytest

import keras_dsmae
from keras_dsmae import losses
from keras_dsmae.layers.masking import RandomMasking
from keras_dsmae.layers.patch_noise import GaussianPatchNoise
from keras_dsmae.layers.random_resized_crop import RandomResizedCrop
from keras_dsmae.models import EMATeacher, MaskedDecoder, MaskedFoldsTarget, ViTEncoder
from keras_dsmae.models.dsmae_parts import PART_NAMES, serialize_parts
from tests.helpers.builders import TINY as TINY_MODEL, structured_images, to_numpy

ENCODER = dict(image_size=16, patch_size=4, hidden_dim=32, depth=2, num_heads=2)


def _parts(**changes):
    """Tiny parts, every one away from its defaults: two views by crops, a
    separate feature predictor, an image head, a lagging warmed-up teacher
    and SdAE's folded target."""
    encoder = ViTEncoder(**ENCODER, mlp_ratio=2.0, drop_path_rate=0.1, use_cls_token=False, seed=5,
                         name="encoder")
    decoder_size = dict(num_prefix_tokens=0, mlp_ratio=2.0, depth=1, num_heads=2)
    parts = dict(
        encoder=encoder,
        noise=GaussianPatchNoise(0.1, seed=7, name="patch_noise"),
        masking=RandomMasking(0.5, seed=8, name="masking"),
        decoder=MaskedDecoder((4, 4), decoder_dim=24, pixel_dim=48, feature_dim=0, name="decoder",
                              **decoder_size),
        feature_predictor=MaskedDecoder((4, 4), decoder_dim=32, pixel_dim=0, feature_dim=32,
                                        name="feature_predictor", **decoder_size),
        image_head=keras.layers.Dense(32, name="image_head"),
        teacher=EMATeacher(encoder.get_config(), momentum_start=0.99, momentum_end=0.999,
                           update_every=2, loss_weight_warmup=0.25, name="ema_teacher"),
        teacher_target=MaskedFoldsTarget(num_folds=2),
        loss_terms=[
            losses.PixelReconstructionTerm(0.5, norm_pix_loss=False, denoise_visible=True, name="pixel"),
            losses.FeatureDistillationTerm(0.7, kind="mse", name="feature"),
            losses.ImageLevelTerm(0.3, kind="contrast", temperature=0.1, name="image"),
            losses.ContrastTerm(0.2, temperature=0.3, name="contrast"),
        ],
        view_crop=RandomResizedCrop(scale=(0.5, 1.0), flip=False, seed=9, name="view_crop"),
    )
    return {**parts, **changes}


def _default_part_configs():
    """Each part built with its defaults (where it has them), serialised:
    what a config that lost a value would fall back to."""
    encoder = ViTEncoder(**ENCODER)
    model = keras_dsmae.DSMAE(
        encoder=encoder, noise=GaussianPatchNoise(0.25), masking=RandomMasking(0.75),
        decoder=MaskedDecoder((4, 4)), loss_terms=[losses.PixelReconstructionTerm(1.0),
                                                  losses.FeatureDistillationTerm(1.0)],
        teacher=EMATeacher(encoder.get_config()), feature_predictor=MaskedDecoder((4, 4), pixel_dim=0, feature_dim=32),
        image_head=keras.layers.Dense(32), view_crop=None)
    return serialize_parts(model)


RUN_STATE = {"built", "compiled", "training", "stop_training"}  # how it was used, not what it is


def _settings(part):
    """A part's plain attributes (numbers, strings, tuples, None), not its run state."""
    plain = (int, float, bool, str, tuple, type(None))
    return {key: value for key, value in vars(part).items()
            if not key.startswith("_") and key not in RUN_STATE and isinstance(value, plain)}


def _as_json(config):
    return json.loads(json.dumps(config))


def test_a_model_built_from_parts_trains_and_every_part_survives_config_and_file(tmp_path):
    model = keras_dsmae.DSMAE(**_parts(), seed=3)
    assert model.num_views == 2 and model.teacher_target.num_folds == 2 and model.num_visible == 8
    model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    history = model.fit(structured_images(4), batch_size=2, epochs=1, verbose=0,
                        callbacks=[keras_dsmae.callbacks.TeacherEMA()])
    for name in ("pixel_loss", "feature_loss", "image_loss", "contrast_loss", "loss"):
        assert np.isfinite(history.history[name][0]), name

    config = model.get_config()
    assert set(PART_NAMES) <= set(config) and config["seed"] == 3
    defaults = _default_part_configs()
    for name in PART_NAMES:  # the test's parts are all away from the defaults
        if name != "view_crop":
            assert config[name] != defaults[name], name
    rebuilt = keras_dsmae.DSMAE.from_config(config)
    assert rebuilt.get_config() == config
    for name in PART_NAMES:  # complete: each part's settings came back, not its defaults
        parts = (getattr(m, "ema_teacher" if name == "teacher" else name) for m in (model, rebuilt))
        for original, copy in zip(*(p if isinstance(p, list) else [p] for p in parts)):
            assert _settings(copy) == _settings(original), name
    assert type(rebuilt.teacher_target) is MaskedFoldsTarget and rebuilt.seed == 3

    path = os.path.join(tmp_path, "parts.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert _as_json(loaded.get_config()) == _as_json(config)  # a file holds lists for tuples
    for saved, read in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(to_numpy(saved), to_numpy(read), err_msg=saved.path)


def test_a_trained_encoder_handed_in_is_kept_and_the_teacher_starts_from_it():
    encoder = ViTEncoder(**ENCODER, name="encoder")
    encoder.build((None, 16, 16, 3))
    encoder.patch_embedding.weights[0].assign(encoder.patch_embedding.weights[0] + 1.0)  # "trained"
    trained = [to_numpy(w).copy() for w in encoder.weights]
    model = keras_dsmae.DSMAE(
        encoder=encoder, noise=GaussianPatchNoise(0.25), masking=RandomMasking(0.75),
        decoder=MaskedDecoder((4, 4), pixel_dim=48, feature_dim=32),
        teacher=EMATeacher(encoder.get_config()),
        loss_terms=[losses.PixelReconstructionTerm(1.0), losses.FeatureDistillationTerm(1.0)])
    assert model.encoder is encoder and isinstance(model.teacher_target, keras_dsmae.models.FullImageTarget)
    for before, now, teacher in zip(trained, model.encoder.weights, model.teacher.weights):
        np.testing.assert_array_equal(before, to_numpy(now))
        np.testing.assert_array_equal(before, to_numpy(teacher))


@pytest.mark.parametrize("changes, message", [
    ({"decoder": None}, r"missing: \['decoder'\]"),
    ({"teacher": None}, r"`teacher` is needed.*'feature'"),
    ({"image_head": None}, r"'image'.*'image_prediction'.*an image_head"),
    ({"decoder": MaskedDecoder((4, 4), pixel_dim=27, num_prefix_tokens=0)}, r"pixel_dim.*48.*pixel_dim=27"),
    ({"feature_predictor": MaskedDecoder((2, 2), pixel_dim=0, feature_dim=32)}, r"feature_predictor.*grid_size"),
    ({"teacher_target": MaskedFoldsTarget(num_folds=3)}, r"num_folds.*8 masked.*num_folds=3"),
    ({"teacher_target": "no_such_target"}, r"teacher_target.*'full'.*no_such_target"),
    ({"masking": GaussianPatchNoise(0.5)}, r"`masking` must be a PatchMasking; got GaussianPatchNoise"),
    ({"encoder": keras.layers.Dense(4)}, r"`encoder` must be a ViTEncoder.*Dense.*patchify"),
    ({"loss_terms": [losses.PixelReconstructionTerm(1.0)]}, r"`teacher` is needed.*\[\].*EMATeacher"),
    ({"loss_terms": []}, r"loss_terms.*at least one"),
    ({"loss_terms": [lambda inputs: 0.0]}, r"`loss_terms` must be a LossTerm; got function"),
    ({"feature_predictor": MaskedDecoder((4, 4), pixel_dim=0, feature_dim=16)},
     r"feature_predictor`.feature_dim must be the encoder's hidden_dim 32.*feature_dim=16"),
    ({"image_head": keras.layers.Dense(8)}, r"image_head.*hidden_dim 32.*units=8"),
    ({"loss_terms": [losses.PixelReconstructionTerm(-1.0), losses.FeatureDistillationTerm(1.0)], "image_head": None,
      "view_crop": None}, r"`pixel_loss_weight` must be .*got pixel_loss_weight=-1"),
    ({"loss_terms": [losses.PixelReconstructionTerm(1.0), losses.FeatureDistillationTerm(1.0, kind="l7")],
      "image_head": None, "view_crop": None}, r"`feature_loss` must be one of.*'l7'"),
    ({"teacher_target": MaskedFoldsTarget(num_folds=0)}, r"`num_folds` must be .*got num_folds=0"),
])
def test_parts_that_do_not_fit_are_refused_naming_the_part(changes, message):
    with pytest.raises(ValueError, match=message):
        keras_dsmae.DSMAE(**_parts(**changes))


def test_view_crop_without_a_two_view_term_flat_arguments_beside_parts_and_a_bad_teacher_are_refused():
    one_view = [losses.PixelReconstructionTerm(1.0), losses.FeatureDistillationTerm(1.0)]
    with pytest.raises(ValueError, match=r"view_crop.*two views"):
        keras_dsmae.DSMAE(**_parts(loss_terms=one_view, image_head=None))
    with pytest.raises(ValueError, match=r"flat arguments \['encoder_dim', 'mask_ratio'\]"):
        keras_dsmae.DSMAE(encoder_dim=64, mask_ratio=0.5, **_parts())
    with pytest.raises(ValueError, match=r"`teacher_momentum` must be .*\[0, 1\].*1.5"):
        EMATeacher(ViTEncoder(**ENCODER).get_config(), momentum_start=1.5)


def test_a_new_loss_term_brings_its_own_head_in_its_one_class(tmp_path):
    from keras_dsmae.losses.terms import LOSS_TERMS, LossTerm, register_loss_term
    from keras_dsmae.utils.knob import Knob
    from keras_dsmae.utils.token_math import mean_pool

    @register_loss_term("brightness")
    class BrightnessTerm(LossTerm):
        """Predict each image's mean clean pixel from the pooled encoding, through its own head."""

        WEIGHT = "brightness_weight"
        KNOBS = {"brightness_weight": Knob(0.0, "weight of the brightness term (0: off).", low=0.0,
                                           part="brightness term")}

        def __init__(self, weight, **kwargs):
            super().__init__(weight, "brightness_loss", **kwargs)

        def build_head(self, encoder):
            self.head = keras.layers.Dense(1, name="brightness_head")
            self.head.build((None, encoder.hidden_dim))

        def head_outputs(self, encoded, encoder, training=False):
            return {"brightness": self.head(mean_pool(encoded, encoder.num_prefix_tokens))}

        def compute(self, inputs):
            target = keras.ops.mean(inputs.clean_patches, axis=(1, 2))[:, None]
            return keras.ops.mean(keras.ops.square(keras.ops.cast(inputs.outputs["brightness"], "float32") - target))

    try:
        model = keras_dsmae.DSMAE.from_preset("mae_vit_tiny_cifar", **TINY_MODEL, brightness_weight=0.5, seed=4)
        head = model.loss_terms[-1].head
        assert any(w is head.kernel for w in model.trainable_weights)  # trained with the model
        before = to_numpy(head.kernel).copy()
        model.compile(optimizer=keras.optimizers.AdamW(1e-2))
        history = model.fit(structured_images(4), batch_size=2, epochs=1, verbose=0)
        assert np.isfinite(history.history["brightness_loss"][0])
        assert np.abs(to_numpy(head.kernel) - before).max() > 0
        path = os.path.join(tmp_path, "brightness.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        np.testing.assert_array_equal(to_numpy(loaded.loss_terms[-1].head.kernel), to_numpy(head.kernel))
    finally:
        del LOSS_TERMS["brightness"]
