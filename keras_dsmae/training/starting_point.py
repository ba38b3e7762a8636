"""`--init_from`: where a pretraining run's weights start. A Hugging Face ViT
folder (`"model_type": "vit"`, as `keras-dsmae-export` writes it) gives the
student encoder of a model of its size; a ViTMAE folder (`"vit_mae"`, as
`facebook/vit-mae-*` ship them or `--format=vit_mae` writes them) gives
the architecture too, and the encoder and decoder. The teacher starts as a
copy of the encoder either way (a resumed run's checkpoint then loads over
all of them)."""

from keras_dsmae.models import hf_vit, hf_vit_mae


def starting_architecture(init_from, requested):
    """The DSMAE architecture arguments that `init_from` fixes: a ViTMAE
    folder's (`{}` for a ViT folder or none).

    Args:
        init_from: the folder, or None.
        requested: the DSMAE arguments the run asks for (flags and
            `--model_overrides`): an encoder size other than the folder's is
            refused, naming both; a decoder size other than the folder's
            wins (that decoder then starts fresh).

    Returns:
        `{argument: value}` to put under the requested ones.
    """
    if not init_from or not hf_vit_mae.is_vit_mae_folder(init_from):
        return {}
    architecture = hf_vit_mae.dsmae_architecture(hf_vit_mae.read_vit_mae_config(init_from), init_from)
    hf_vit_mae.check_fits(architecture, requested, init_from)
    return architecture


def load_starting_point(model, init_from):
    """Set `model`'s weights from `init_from` (see the module docstring) and
    say which parts came from it."""
    if hf_vit_mae.is_vit_mae_folder(init_from):
        parts = hf_vit_mae.load_vit_mae_weights(model, init_from)
    else:
        hf_vit.load_vit_weights(model.encoder, init_from)
        parts = ["encoder"]
        if model.ema_teacher is not None:
            model.ema_teacher.copy_from(model.encoder)
            parts.append("teacher")
    print(f"keras_dsmae: the {', '.join(parts)} start(s) from {init_from}", flush=True)
    return parts
