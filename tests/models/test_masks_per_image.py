"""Several masked copies of each image per teacher pass (`masks_per_image`):
each copy its own mask and noise, one teacher pass for all, losses the mean
over the copies, the knobs and parts through configs and `.keras` files,
and the FLOPs that count the teacher once."""

import keras
import numpy as np
import pytest

import keras_dsmae
from keras_dsmae import losses
from keras_dsmae.layers import BlockMasking, GaussianPatchNoise
from keras_dsmae.layers.masking import gather_tokens
from keras_dsmae.losses.functions import normalize_tokens, pixel_reconstruction_loss
from keras_dsmae.models import EMATeacher, MaskedDecoder, ViTEncoder
from keras_dsmae.models.flops import teacher_flops, training_flops_per_image, transformer_flops
from tests.helpers.builders import structured_images, tiny_model, to_numpy

COPIES = 3


def _count_calls(monkeypatch, obj, name):
    calls = []
    method = getattr(obj, name)

    def counted(*args, **kwargs):
        calls.append(1)
        return method(*args, **kwargs)
    monkeypatch.setattr(obj, name, counted)
    return calls


def test_each_copy_has_its_own_mask_and_noise_and_one_teacher_pass_serves_them(monkeypatch):
    model = tiny_model(masks_per_image=COPIES, seed=4)
    images = structured_images(4)
    batch, n = 4, model.encoder.num_patches
    teacher_passes = _count_calls(monkeypatch, model.teacher, "encode_tokens")
    student_passes = _count_calls(monkeypatch, model.encoder, "encode_tokens")
    outputs = model._forward(images)
    targets_of = []

    def teacher_targets(clean, ids_masked):
        targets_of.append(model._teacher_targets(clean, ids_masked))
        return targets_of[-1]
    inputs = losses.LossInputs(outputs=outputs, clean_patches=model.encoder.patchify(images),
                               num_views=model.num_views, num_visible=model.num_visible,
                               teacher_targets=teacher_targets)
    for term in model.loss_terms:
        term.weighted_loss(inputs)
    assert (len(teacher_passes), len(student_passes)) == (1, 1)  # one teacher pass, one batched student pass

    masks = to_numpy(outputs["mask"]).reshape(COPIES, batch, n)
    assert (masks.sum(axis=2) == n - model.num_visible).all()
    for image in range(batch):  # every copy of every image masked differently
        assert len({masks[m, image].tobytes() for m in range(COPIES)}) == COPIES
    noisy = to_numpy(outputs["corrupted_patches"]).reshape(COPIES, batch, n, -1)
    assert not np.allclose(noisy[0], noisy[1])  # each copy its own noise draw
    # the one teacher pass: copy m's targets are the clean image's teacher tokens at copy m's mask
    teacher_tokens = to_numpy(model.teacher.encode_tokens(model.teacher.embed(model.encoder.patchify(images))))
    ids = to_numpy(outputs["ids_shuffle"])[:, model.num_visible:]
    for m in range(COPIES):
        expected = normalize_tokens(gather_tokens(teacher_tokens[:, 1:], ids[m * batch:(m + 1) * batch]))
        np.testing.assert_allclose(to_numpy(targets_of[0])[m * batch:(m + 1) * batch], to_numpy(expected),
                                   atol=2e-5)

    # the pixel loss is the mean of the copies' own losses
    clean = to_numpy(model.encoder.patchify(images))
    term = model.loss_terms[0]
    per_copy = [to_numpy(pixel_reconstruction_loss(
        outputs["pixels"][m * batch:(m + 1) * batch], clean, outputs["mask"][m * batch:(m + 1) * batch],
        term.norm_pix_loss, term.norm_pix_variance)) for m in range(COPIES)]
    assert float(to_numpy(term.tracker.result())) == pytest.approx(np.mean(per_copy), rel=1e-5)


def test_copies_train_and_the_knobs_survive_config_and_file(tmp_path):
    model = tiny_model(masks_per_image=2, masking="inverse_block", visible_blocks=2, mask_ratio=0.5, seed=1)
    assert isinstance(model.masking, keras_dsmae.layers.InverseBlockMasking) and model.num_views == 2
    assert model.masking.grid_size == tuple(model.encoder.grid_size)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3))  # XLA on JAX and TF
    images = structured_images(8)
    history = model.fit(images, batch_size=4, epochs=1, verbose=0, callbacks=[keras_dsmae.callbacks.TeacherEMA()])
    assert all(np.isfinite(history.history[key][0]) for key in ("loss", "pixel_loss", "feature_loss"))
    assert int(to_numpy(model.optimizer.iterations)) == 2  # the batch is the images, not the copies

    config = model.get_config()
    assert (config["masks_per_image"], config["masking"], config["visible_blocks"]) == (2, "inverse_block", 2)
    path = tmp_path / "copies.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.get_config() == config
    assert (type(loaded.masking), loaded.masking.num_blocks, loaded.num_views) == (type(model.masking), 2, 2)
    for saved, read in zip(model.weights, loaded.weights):  # the masking stream too: same next masks
        np.testing.assert_array_equal(to_numpy(saved), to_numpy(read), err_msg=saved.path)

    encoder = ViTEncoder(image_size=16, patch_size=4, hidden_dim=32, depth=1, num_heads=2, mlp_ratio=2.0)
    parts = keras_dsmae.DSMAE(
        encoder=encoder, noise=GaussianPatchNoise(0.1), seed=2,
        masking=BlockMasking(0.75, num_blocks=2, grid_size=(4, 4), masks_per_image=3),
        decoder=MaskedDecoder((4, 4), decoder_dim=16, depth=1, num_heads=2, pixel_dim=48, feature_dim=32),
        loss_terms=[losses.PixelReconstructionTerm(1.0), losses.FeatureDistillationTerm(0.5)],
        teacher=EMATeacher(encoder.get_config()))
    rebuilt = keras_dsmae.DSMAE.from_config(parts.get_config())
    assert rebuilt.get_config() == parts.get_config()
    assert (type(rebuilt.masking), rebuilt.masking.num_blocks, rebuilt.num_views) == (BlockMasking, 2, 3)


def test_flops_count_the_student_per_copy_and_the_teacher_once():
    flops = {m: training_flops_per_image(tiny_model(masks_per_image=m)) for m in (1, 2, 3)}
    student = flops[2] - flops[1]
    assert student > 0 and flops[3] - flops[2] == pytest.approx(student)
    model = tiny_model()
    enc = model.encoder
    teacher = 2 * enc.num_patches * enc.patch_dim * enc.hidden_dim + transformer_flops(
        enc.num_patches + 1, enc.hidden_dim, enc.mlp_ratio, enc.depth)
    assert flops[1] - student == pytest.approx(teacher) == teacher_flops(model)
    mae = tiny_model(noise_std=0.0, loss_weight=0.0)
    assert teacher_flops(mae) == 0 and training_flops_per_image(mae) < student  # no feature head either
    separate = tiny_model(feature_predictor_depth=1)
    assert training_flops_per_image(separate) > flops[1]  # the predictor's blocks count


def test_copies_beside_two_views_and_knobs_of_another_strategy_are_refused():
    with pytest.raises(ValueError, match=r"`masks_per_image`=2 cannot go with.*two views.*contrast"):
        tiny_model(masks_per_image=2, contrast_weight=0.1)
    with pytest.raises(ValueError, match=r"`masks_per_image`.*0"):
        tiny_model(masks_per_image=0)
    with pytest.raises(ValueError, match=r"`visible_blocks`=2 needs `masking`='inverse_block'; got masking='block'"):
        tiny_model(masking="block", visible_blocks=2)
    with pytest.raises(ValueError, match=r"`masking` must be one of 'random', 'block', 'inverse_block'; got masking='grid'"):
        tiny_model(masking="grid")
    with pytest.raises(ValueError, match=r"`masking`.grid_size must be the encoder's \(4, 4\)"):
        encoder = ViTEncoder(image_size=16, patch_size=4, hidden_dim=32, depth=1, num_heads=2)
        keras_dsmae.DSMAE(encoder=encoder, noise=GaussianPatchNoise(0.0),
                          masking=BlockMasking(0.75, grid_size=(2, 8)), decoder=MaskedDecoder((4, 4)),
                          loss_terms=[losses.PixelReconstructionTerm(1.0)])
