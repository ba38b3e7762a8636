"""Our MAE is the reference MAE: with the same weights and the same mask,
`DSMAE.from_preset("mae_vit_tiny_cifar")` gives transformers'
`ViTMAEForPreTraining` (the port of facebookresearch/mae) its loss, its
masked-patch predictions and its gradients, with `norm_pix_loss` on and off
and at mask ratios where keras_dsmae 0.2's rounded count was not the
reference's truncated one. Where DSD-MAE adds to MAE (noise 0, a teacher
and its terms), the pixel term is still the reference's loss."""

import numpy as np
import pytest

import keras_dsmae
from keras_dsmae.models import hf_vit_mae
from tests.helpers.builders import move_off_initial_values, to_numpy
from tests.helpers.gradients import variable_gradients
from tests.helpers.reference_mae import mae_sincos_table, set_reference_tables

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("safetensors")

# 40×40 images in 4×4 patches: 100 patches, of which int(100 * (1 - r)) stay
# visible: 25, 19 and 9 at r = 0.75, 0.8 and 0.9 (0.2 rounded: 25, 20, 10).
SIZE = dict(image_size=40, patch_size=4, num_channels=3, encoder_dim=32, encoder_depth=2, encoder_heads=2,
            decoder_dim=32, decoder_depth=1, decoder_heads=2, mlp_ratio=2.0, layer_norm_epsilon=1e-6)
BATCH, GRID = 3, 10
TOLERANCE = 1e-5  # relative, float32: the loss and the masked predictions
GRADIENT_TOLERANCE = 5e-5  # relative norm of each gradient (measured: ~5e-6)


def _models(tmp_path, preset="mae_vit_tiny_cifar", **settings):
    """Ours (every weight moved off its initial value) and the reference
    with the same weights (through our ViTMAE export, every tensor loaded)
    and position tables from MAE's formula (ours are checked against it)."""
    ours = move_off_initial_values(keras_dsmae.DSMAE.from_preset(preset, seed=0, **SIZE, **settings))
    hf_vit_mae.write_vit_mae_folder(ours, str(tmp_path))
    reference, info = transformers.ViTMAEForPreTraining.from_pretrained(
        str(tmp_path), output_loading_info=True, attn_implementation="eager")
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    for table in (reference.vit.embeddings.position_embeddings, reference.decoder.decoder_pos_embed):
        np.testing.assert_allclose(table.detach().numpy(), mae_sincos_table(GRID, table.shape[-1]), atol=1e-6)
    return ours, set_reference_tables(reference).eval()  # the reference's tables, never taken from us


def _inputs():
    rng = np.random.RandomState(3)
    return (rng.normal(size=(BATCH, 40, 40, 3)).astype("float32"),
            rng.uniform(size=(BATCH, GRID * GRID)).astype("float32"))


def _relative(ours, theirs):
    return float(np.max(np.abs(ours - theirs)) / max(np.max(np.abs(theirs)), 1e-12))


@pytest.mark.parametrize("mask_ratio", [0.75, 0.8, 0.9])
@pytest.mark.parametrize("norm_pix_loss", [True, False])
def test_the_loss_predictions_and_gradients_are_the_reference_maes(tmp_path, mask_ratio, norm_pix_loss):
    ours, reference = _models(tmp_path, mask_ratio=mask_ratio, norm_pix_loss=norm_pix_loss)
    images, scores = _inputs()
    assert ours.num_visible == int(GRID * GRID * (1 - mask_ratio))

    output = reference(pixel_values=torch.from_numpy(images.transpose(0, 3, 1, 2)), noise=torch.from_numpy(scores))
    output.loss.backward()
    theirs = {hf_vit_mae.canonical_name(name): p.grad.numpy() for name, p in reference.named_parameters()
              if p.grad is not None}

    def loss():
        return ours.compute_loss(x=images, y_pred=ours(images, mask_scores=scores))
    value, grads = variable_gradients(loss, ours.trainable_variables)
    outputs = ours(images, mask_scores=scores)
    mask = to_numpy(outputs["mask"])
    np.testing.assert_array_equal(mask, output.mask.numpy())
    assert abs(value - output.loss.item()) <= TOLERANCE * abs(output.loss.item())
    hidden = mask.astype(bool)
    assert _relative(to_numpy(outputs["pixels"])[hidden], output.logits.detach().numpy()[hidden]) <= TOLERANCE

    by_path = {variable.path: grad for variable, grad in zip(ours.trainable_variables, grads)}
    ours_grads = hf_vit_mae.vit_mae_tensors(ours, read=lambda variable: by_path[variable.path])
    assert set(theirs) <= set(ours_grads)
    # the key bias's gradient is 0 in exact arithmetic (softmax ignores a shift
    # common to all keys): both sides hold rounding noise there, so each error
    # is taken relative to at least 1e-3 of the largest gradient
    floor = 1e-3 * max(np.linalg.norm(grad) for grad in theirs.values())
    for name, grad in theirs.items():
        error = np.linalg.norm(ours_grads[name] - grad) / max(np.linalg.norm(grad), floor)
        assert error <= GRADIENT_TOLERANCE, f"{name}: relative gradient error {error:.2e}"


def test_with_the_teacher_and_its_terms_the_pixel_term_is_still_the_reference_loss(tmp_path):
    ours, reference = _models(tmp_path, preset="dsmae_vit_tiny_cifar", noise_std=0.0, mask_ratio=0.8)
    assert ours.teacher is not None
    images, scores = _inputs()
    with torch.no_grad():
        expected = reference(pixel_values=torch.from_numpy(images.transpose(0, 3, 1, 2)),
                             noise=torch.from_numpy(scores)).loss.item()
    pixel_term = next(term for term in ours.loss_terms if term.name == "pixel_reconstruction")
    pixel_term.tracker.reset_state()
    ours.compute_loss(x=images, y_pred=ours(images, mask_scores=scores))
    assert abs(float(to_numpy(pixel_term.tracker.result())) - expected) <= TOLERANCE * expected
