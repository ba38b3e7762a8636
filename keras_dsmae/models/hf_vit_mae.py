"""A whole `DSMAE` (encoder and pixel decoder) in the Hugging Face ViTMAE
layout, both ways: the layout of `facebook/vit-mae-*` checkpoints
(`config.json` with `"model_type": "vit_mae"`, and `model.safetensors` or
`pytorch_model.bin`), which `transformers.ViTMAEForPreTraining` loads.

The mapping (on top of `hf_vit`'s for the encoder, under `vit.`):

- `decoder.decoder_embed` is the decoder's `input_projection`,
  `decoder.mask_token` its mask token, `decoder.decoder_layers.{i}` its
  blocks (the ViT layer layout), `decoder.decoder_norm` its final norm and
  `decoder.decoder_pred` its pixel head;
- both position tables are fixed sin-cos tables with a zero class-token row.
  A stored table is never trusted: it must be that table (then it is not
  read, the model computes its own), or all zeros (what transformers 5.x
  writes for a model built from a config, whose initialisers skip it; a
  warning says so); a learned one is refused.

Names are read in every form seen: the hub's (`vit.encoder.layer.0.attention.attention.query`),
transformers 5.x's in memory (`vit.layers.0.attention.q_proj`) and as its
`save_pretrained` writes them (`decoder.decoder_encoder.layer.0`); an
encoder-only `ViTMAEModel` folder has no `vit.` prefix and no decoder. The
export writes the hub's form.

What the layout cannot hold is refused with a `ValueError` naming the
setting: non-square images, no class token, learned position tables, a
decoder MLP of another width ratio than the encoder's, no query/key/value
bias, an activation other than exact GELU, a model without pixel head.
"""

import json
import os
import re
import warnings

import numpy as np

from keras_dsmae.models import hf_vit

MODEL_TYPE = "vit_mae"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
ENCODER_PREFIX, DECODER_PREFIX = "vit.", "decoder."
# transformers 5.x names (in memory, and as its save_pretrained writes the
# decoder) → the hub's names, which the rest of this module uses
_CANONICAL_NAMES = (
    (r"^decoder\.decoder_encoder\.layer\.", "decoder.decoder_layers."),
    (r"^vit\.layers\.", "vit.encoder.layer."),
    (r"\.attention\.q_proj\.", ".attention.attention.query."),
    (r"\.attention\.k_proj\.", ".attention.attention.key."),
    (r"\.attention\.v_proj\.", ".attention.attention.value."),
    (r"\.attention\.o_proj\.", ".attention.output.dense."),
    (r"\.mlp\.fc1\.", ".intermediate.dense."),
    (r"\.mlp\.fc2\.", ".output.dense."),
)
# DSMAE's architecture arguments ← ViTMAE config keys
_ARCHITECTURE = {"image_size": "image_size", "patch_size": "patch_size", "num_channels": "num_channels",
                 "encoder_dim": "hidden_size", "encoder_depth": "num_hidden_layers",
                 "encoder_heads": "num_attention_heads", "decoder_dim": "decoder_hidden_size",
                 "decoder_depth": "decoder_num_hidden_layers", "decoder_heads": "decoder_num_attention_heads",
                 "layer_norm_epsilon": "layer_norm_eps"}
DECODER_ARGUMENTS = ("decoder_dim", "decoder_depth", "decoder_heads")
MAE_PRESET = "mae_vit_tiny_cifar"  # the method of a plain MAE (its architecture is replaced)


def is_vit_mae_folder(folder):
    """True when `folder` has a `config.json` of a `vit_mae` model."""
    try:
        with open(os.path.join(folder, hf_vit.CONFIG_FILE)) as file:
            return json.load(file).get("model_type") == MODEL_TYPE
    except (OSError, ValueError, AttributeError):
        return False


def read_vit_mae_config(folder):
    """The `config.json` dict of a ViTMAE folder.

    Raises:
        ValueError: no such folder or file, another model type, no weights file.
    """
    config_path = os.path.join(folder, hf_vit.CONFIG_FILE)
    if not os.path.isfile(config_path):
        raise ValueError(f"`init_from` {folder!r} is not a Hugging Face folder: {config_path} is missing.")
    with open(config_path) as file:
        config = json.load(file)
    if config.get("model_type") != MODEL_TYPE:
        raise ValueError(f"{config_path} describes a {config.get('model_type')!r} model, not {MODEL_TYPE!r}.")
    if not any(os.path.isfile(os.path.join(folder, name)) for name in WEIGHT_FILES):
        raise ValueError(f"`init_from` {folder!r} has no weights: neither of {list(WEIGHT_FILES)} is there.")
    return config


def read_vit_mae_tensors(folder):
    """`{hub name: float32 array}` of a ViTMAE folder's weights.

    Raises:
        RuntimeError: the weights need a package that is not installed
            (safetensors; torch for `pytorch_model.bin`), saying how to get it.
    """
    path = next(os.path.join(folder, name) for name in WEIGHT_FILES if os.path.isfile(os.path.join(folder, name)))
    raw = _load_safetensors(path) if path.endswith(".safetensors") else _load_torch_bin(path)
    tensors = {canonical_name(name): np.asarray(value, dtype=np.float32) for name, value in raw.items()}
    if not any(name.startswith(ENCODER_PREFIX) for name in tensors):  # an encoder-only ViTMAEModel
        tensors = {ENCODER_PREFIX + name: value for name, value in tensors.items()}
    return tensors


def canonical_name(name):
    """A ViTMAE weight's name in the hub's form (see the module docstring)."""
    for pattern, replacement in _CANONICAL_NAMES:
        name = re.sub(pattern, replacement, name)
    return name


def _load_safetensors(path):
    return hf_vit.safetensors_numpy().load_file(path)


def _load_torch_bin(path):
    try:
        import torch
    except ImportError:
        raise RuntimeError(f"{path} is a PyTorch pickle, which only torch reads, and torch is not installed: "
                           f"pip install torch (any backend), or convert the folder to model.safetensors "
                           f"where torch is.") from None
    state = torch.load(path, map_location="cpu", weights_only=True)
    return {name: value.float().numpy() for name, value in state.items()}


def dsmae_architecture(config, where="the folder"):
    """`DSMAE`'s architecture arguments of a ViTMAE `config.json` dict.

    Raises:
        ValueError: naming the setting the layout of `DSMAE` cannot hold.
    """
    architecture = {ours: config[theirs] for ours, theirs in _ARCHITECTURE.items() if theirs in config}
    missing = sorted(set(_ARCHITECTURE) - set(architecture) - {"num_channels", "layer_norm_epsilon"})
    if missing:
        raise ValueError(f"The ViTMAE config of {where} lacks {[_ARCHITECTURE[m] for m in missing]}.")
    architecture.setdefault("num_channels", 3)
    architecture.setdefault("layer_norm_epsilon", 1e-12)  # transformers' ViTMAEConfig default
    size = architecture["image_size"]
    if isinstance(size, (list, tuple)):
        if len(set(size)) != 1:
            raise ValueError(f"The ViTMAE of {where} has image_size={list(size)}; the layout takes square images.")
        architecture["image_size"] = size[0]
    patch = architecture["patch_size"]
    if isinstance(patch, (list, tuple)):
        if len(set(patch)) != 1:
            raise ValueError(f"The ViTMAE of {where} has patch_size={list(patch)}; DSMAE takes square patches.")
        architecture["patch_size"] = patch[0]
    mlp_ratio = config.get("intermediate_size", 4 * config["hidden_size"]) / config["hidden_size"]
    decoder_ratio = config.get("decoder_intermediate_size", 4 * config["decoder_hidden_size"]) / config[
        "decoder_hidden_size"]
    if decoder_ratio != mlp_ratio:
        raise ValueError(f"The ViTMAE of {where} has decoder_intermediate_size / decoder_hidden_size = "
                         f"{decoder_ratio}, but intermediate_size / hidden_size = {mlp_ratio}; DSMAE's decoder "
                         f"uses the encoder's mlp_ratio.")
    for key, wanted in (("qkv_bias", True), ("hidden_act", "gelu")):
        if config.get(key, wanted) != wanted:
            raise ValueError(f"The ViTMAE of {where} has {key}={config[key]!r}; DSMAE's blocks have "
                             f"{key}={wanted!r}.")
    return {**architecture, "mlp_ratio": mlp_ratio, "use_cls_token": True}


def mae_settings(config):
    """The MAE method of a ViTMAE config: its mask ratio and `norm_pix_loss`,
    no noise and no teacher (DSMAE knobs)."""
    return {"mask_ratio": config.get("mask_ratio", 0.75), "norm_pix_loss": bool(config.get("norm_pix_loss", False)),
            "noise_std": 0.0, "loss_weight": 0.0}


def check_fits(architecture, arguments, where):
    """Refuse `arguments` (DSMAE arguments asked for) whose encoder
    architecture differs from the folder's `architecture`, naming both: the
    encoder's weights would not fit. The decoder may differ (it then
    starts fresh)."""
    for name, value in arguments.items():
        theirs = architecture.get(name)
        if name in architecture and name not in DECODER_ARGUMENTS and _differs(value, theirs):
            raise ValueError(f"`{name}`={value!r} differs from the ViTMAE in {where}, which has "
                             f"{_ARCHITECTURE.get(name, name)}={theirs!r}: its encoder would not fit. Leave "
                             f"`{name}` out (the folder sets it) or start from another folder.")


def _differs(ours, theirs):
    ours = ours[0] if isinstance(ours, (list, tuple)) and len(set(ours)) == 1 else ours
    return ours != theirs and not (isinstance(ours, float) and np.isclose(ours, theirs, rtol=1e-9))


def load_vit_mae_weights(model, folder):
    """Set a built `DSMAE`'s encoder (and its teacher, as a copy) from a
    ViTMAE folder, and its decoder where its size is the folder's.

    Args:
        model: a `DSMAE` of the folder's encoder architecture
            (`dsmae_architecture`).
        folder: the ViTMAE folder.

    Returns:
        The parts that came from the folder: `["encoder"]` or
        `["encoder", "decoder"]` (and `"teacher"` when the model has one).

    Raises:
        ValueError: naming what does not fit or cannot be held.
    """
    architecture = dsmae_architecture(read_vit_mae_config(folder), folder)
    tensors = read_vit_mae_tensors(folder)
    encoder = model.encoder
    hf_vit.check_exportable(encoder)
    check_fits(architecture, _encoder_arguments(model), folder)
    expected = {ENCODER_PREFIX + k: v for k, v in hf_vit.encoder_tensors(encoder).items()}
    hf_vit.check_tensors(tensors, expected, f"The ViTMAE weights of {folder}")
    _check_position_table(tensors, expected, ENCODER_PREFIX + "embeddings.position_embeddings", folder)
    hf_vit.assign_encoder(encoder, {name[len(ENCODER_PREFIX):]: value for name, value in tensors.items()
                                    if name.startswith(ENCODER_PREFIX)})
    loaded = ["encoder"]
    decoder_names = [name for name in tensors if name.startswith(DECODER_PREFIX)]
    if decoder_names and _decoder_fits(model, architecture):
        expected = decoder_tensors(model.decoder)
        hf_vit.check_tensors(tensors, expected, f"The ViTMAE weights of {folder}")
        _check_position_table(tensors, expected, DECODER_PREFIX + "decoder_pos_embed", folder)
        _assign_decoder(model.decoder, tensors)
        loaded.append("decoder")
    if model.ema_teacher is not None:
        model.ema_teacher.copy_from(encoder)
        loaded.append("teacher")
    return loaded


def _encoder_arguments(model):
    encoder = model.encoder
    return {"image_size": encoder.image_size[0], "patch_size": encoder.patch_size,
            "num_channels": encoder.num_channels, "encoder_dim": encoder.hidden_dim,
            "encoder_depth": encoder.depth, "encoder_heads": encoder.num_heads, "mlp_ratio": encoder.mlp_ratio}


def _decoder_fits(model, architecture):
    decoder = model.decoder
    return (decoder.pixel_head is not None and decoder.num_prefix_tokens == 1
            and (decoder.decoder_dim, decoder.depth, decoder.num_heads)
            == tuple(architecture[name] for name in DECODER_ARGUMENTS))


def _check_position_table(tensors, expected, name, folder):
    """The stored table must be the fixed sin-cos one, or all zeros (warned)."""
    stored = tensors[name]
    if not np.any(stored):
        warnings.warn(f"{folder}: {name} is all zeros (transformers 5.x writes it so for a model built from a "
                      f"config); the model uses the fixed sin-cos table, as MAE does.", stacklevel=3)
    elif not np.allclose(stored, expected[name], atol=1e-5):
        raise ValueError(f"The ViTMAE in {folder} has a learned or other {name}; DSMAE uses MAE's fixed 2-D "
                         f"sin-cos table, so it cannot start from it.")


def decoder_tensors(decoder, read=hf_vit.read_value):
    """`{hub name: array}` of a `MaskedDecoder` with a pixel head and the
    class token's slot (`num_prefix_tokens=1`) in the ViTMAE layout; `read`
    as in `hf_vit.encoder_tensors`."""
    if decoder.pixel_head is None:
        raise ValueError("The ViTMAE layout has a pixel decoder; this model has none (pixel_loss_weight=0).")
    tensors = {
        "decoder.decoder_embed.weight": read(decoder.input_projection.kernel).T,
        "decoder.decoder_embed.bias": read(decoder.input_projection.bias),
        "decoder.mask_token": read(decoder.restore.mask_token),
        "decoder.decoder_pos_embed": hf_vit.position_table(decoder.position_embedding, decoder.decoder_dim),
        "decoder.decoder_norm.weight": read(decoder.final_norm.gamma),
        "decoder.decoder_norm.bias": read(decoder.final_norm.beta),
        "decoder.decoder_pred.weight": read(decoder.pixel_head.kernel).T,
        "decoder.decoder_pred.bias": read(decoder.pixel_head.bias),
    }
    for index, block in enumerate(decoder.blocks):
        tensors.update(hf_vit.block_tensors(block, f"decoder.decoder_layers.{index}.", read))
    return {name: np.ascontiguousarray(value) for name, value in tensors.items()}


def _assign_decoder(decoder, tensors):
    decoder.input_projection.kernel.assign(tensors["decoder.decoder_embed.weight"].T)
    decoder.input_projection.bias.assign(tensors["decoder.decoder_embed.bias"])
    decoder.restore.mask_token.assign(tensors["decoder.mask_token"])
    decoder.final_norm.gamma.assign(tensors["decoder.decoder_norm.weight"])
    decoder.final_norm.beta.assign(tensors["decoder.decoder_norm.bias"])
    decoder.pixel_head.kernel.assign(tensors["decoder.decoder_pred.weight"].T)
    decoder.pixel_head.bias.assign(tensors["decoder.decoder_pred.bias"])
    for index, block in enumerate(decoder.blocks):
        hf_vit.assign_block(block, tensors, f"decoder.decoder_layers.{index}.")


def vit_mae_tensors(model, read=hf_vit.read_value):
    """`{hub name: array}` of a `DSMAE`'s encoder and pixel decoder in the
    ViTMAE layout (what `model.safetensors` holds); `read` as in
    `hf_vit.encoder_tensors`."""
    tensors = {ENCODER_PREFIX + k: v for k, v in hf_vit.encoder_tensors(model.encoder, read).items()}
    return {**tensors, **decoder_tensors(model.decoder, read)}


def vit_mae_config(model):
    """The `config.json` dict of a `DSMAE` as a `ViTMAEForPreTraining`."""
    encoder, decoder = model.encoder, model.decoder
    pixel = next((term for term in model.loss_terms if hasattr(term, "norm_pix_loss")), None)
    if pixel is None or decoder.pixel_head is None:
        raise ValueError("The ViTMAE layout is a pixel autoencoder; this model has no pixel term "
                         "(pixel_loss_weight=0), so it has no ViTMAE form. Export its encoder (--format=vit).")
    config = hf_vit.vit_config(encoder)
    config.update({
        "model_type": MODEL_TYPE, "architectures": ["ViTMAEForPreTraining"],
        "decoder_hidden_size": decoder.decoder_dim, "decoder_num_hidden_layers": decoder.depth,
        "decoder_num_attention_heads": decoder.num_heads,
        "decoder_intermediate_size": int(decoder.decoder_dim * decoder.mlp_ratio),
        "mask_ratio": float(model.masking.mask_ratio), "norm_pix_loss": bool(pixel.norm_pix_loss),
    })
    return config


def write_vit_mae_folder(model, folder):
    """Write `config.json` and `model.safetensors` of `model` (a `DSMAE`)
    into `folder` (which must exist)."""
    config = vit_mae_config(model)
    with open(os.path.join(folder, hf_vit.CONFIG_FILE), "w") as file:
        json.dump(config, file, indent=2)
    hf_vit.safetensors_numpy().save_file(vit_mae_tensors(model), os.path.join(folder, WEIGHT_FILES[0]),
                                         metadata={"format": "pt"})
