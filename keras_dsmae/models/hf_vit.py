"""A `ViTEncoder` in the Hugging Face ViT layout, both ways.

The layout is that of `transformers.ViTModel` checkpoints (`config.json`
with `"model_type": "vit"`, the weights named as in `model.safetensors` of
e.g. google/vit-base-patch16-224-in21k), which `transformers` and
keras-hub's `ViTBackbone` both load. The mapping:

- patch embedding: our Dense on `(p, p, C)`-flattened patches is the
  convolution `embeddings.patch_embeddings.projection` (`(D, C, p, p)`);
- positions: our fixed sin-cos table is added to the patch tokens only, so
  `embeddings.position_embeddings` is `(1, N + 1, D)` with a zero row for
  the class token (a loader that trains it afterwards starts from it);
- each block: pre-norm LayerNorms, the fused `qkv` Dense split into
  query/key/value, the output projection, the two-layer GELU (exact) MLP;
- the final LayerNorm is `layernorm`.

What the layout cannot hold is refused with a `ValueError` naming the
setting: non-square images, no class token.
"""

import json
import os

import keras
import numpy as np

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
PREFIX = "vit."


def _array(variable):
    return np.asarray(keras.ops.convert_to_numpy(variable), dtype=np.float32)


def safetensors_numpy():
    """`safetensors.numpy`, or a `RuntimeError` saying how to install it."""
    try:
        from safetensors import numpy as module
    except ImportError:
        raise RuntimeError("The Hugging Face ViT layout is stored as safetensors, which is not installed: "
                           "pip install 'keras_dsmae[export]'.") from None
    return module


def check_exportable(encoder):
    """`ValueError` naming the setting when `encoder` has no ViT-layout form."""
    height, width = encoder.image_size
    if height != width:
        raise ValueError(f"The Hugging Face ViT layout takes square images; this encoder has "
                         f"image_size={height}x{width}. Export an encoder trained on square images.")
    if not encoder.use_cls_token:
        raise ValueError("The Hugging Face ViT layout has a class token; this encoder has "
                         "use_cls_token=False.")


def vit_config(encoder):
    """The `config.json` dict of `encoder` (a `ViTEncoder`)."""
    check_exportable(encoder)
    return {
        "model_type": "vit",
        "architectures": ["ViTModel"],
        "hidden_size": encoder.hidden_dim,
        "num_hidden_layers": encoder.depth,
        "num_attention_heads": encoder.num_heads,
        "intermediate_size": int(encoder.hidden_dim * encoder.mlp_ratio),
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "layer_norm_eps": float(encoder.layer_norm_epsilon),
        "image_size": int(encoder.image_size[0]),
        "patch_size": encoder.patch_size,
        "num_channels": encoder.num_channels,
        "qkv_bias": True,
        "initializer_range": 0.02,
        "torch_dtype": "float32",
    }


def read_value(variable):
    """A variable's value as a float32 numpy array (the default `read` of
    the layout functions)."""
    return _array(variable)


def encoder_tensors(encoder, read=read_value):
    """`{name: float32 array}` of `encoder` in the ViT layout.

    Args:
        encoder: a built `ViTEncoder`.
        read: maps each of its variables to the array written for it (by
            default its value; e.g. its gradient, to compare gradients in
            this layout).
    """
    check_exportable(encoder)
    dim, p, channels = encoder.hidden_dim, encoder.patch_size, encoder.num_channels
    kernel = read(encoder.patch_embedding.projection.kernel)  # (p*p*C, D)
    tensors = {
        "embeddings.cls_token": read(encoder.cls_token),
        "embeddings.position_embeddings": position_table(encoder.position_embedding, dim),
        "embeddings.patch_embeddings.projection.weight": kernel.reshape(p, p, channels, dim).transpose(3, 2, 0, 1),
        "embeddings.patch_embeddings.projection.bias": read(encoder.patch_embedding.projection.bias),
        "layernorm.weight": read(encoder.final_norm.gamma),
        "layernorm.bias": read(encoder.final_norm.beta),
    }
    for index, block in enumerate(encoder.blocks):
        tensors.update(block_tensors(block, f"encoder.layer.{index}.", read))
    return {name: np.ascontiguousarray(value) for name, value in tensors.items()}


def position_table(position_embedding, dim):
    """`(1, N + 1, D)`: the fixed sin-cos table of `position_embedding`
    (a built `SinCosPositionEmbedding`) with the class token's zero row first."""
    positions = _array(position_embedding.positions)  # (N, D)
    return np.concatenate([np.zeros((1, dim), np.float32), positions])[None]


def block_tensors(block, prefix, read=read_value):
    """`{name: array}` of one `TransformerBlock` in the ViT layer layout
    (`prefix` + `attention.attention.query.weight`, ...): the fused `qkv`
    split into query, key and value, the kernels transposed to torch's
    `(out, in)`."""
    dim = block.attention_norm.gamma.shape[0]
    qkv_kernel, qkv_bias = read(block.attention.qkv.kernel), read(block.attention.qkv.bias)
    tensors = {}
    for part, name in enumerate(QKV_NAMES):
        columns = slice(part * dim, (part + 1) * dim)
        tensors[prefix + f"attention.attention.{name}.weight"] = qkv_kernel[:, columns].T
        tensors[prefix + f"attention.attention.{name}.bias"] = qkv_bias[columns]
    for ours, theirs in _block_dense_layers(block):
        tensors[prefix + theirs + ".weight"] = read(ours.kernel).T
        tensors[prefix + theirs + ".bias"] = read(ours.bias)
    for ours, theirs in _block_norms(block):
        tensors[prefix + theirs + ".weight"] = read(ours.gamma)
        tensors[prefix + theirs + ".bias"] = read(ours.beta)
    return tensors


def assign_block(block, tensors, prefix):
    """Set one `TransformerBlock` from the ViT layer layout (`block_tensors`' inverse)."""
    block.attention.qkv.kernel.assign(np.concatenate(
        [tensors[prefix + f"attention.attention.{n}.weight"].T for n in QKV_NAMES], axis=1))
    block.attention.qkv.bias.assign(np.concatenate(
        [tensors[prefix + f"attention.attention.{n}.bias"] for n in QKV_NAMES]))
    for ours, theirs in _block_dense_layers(block):
        ours.kernel.assign(tensors[prefix + theirs + ".weight"].T)
        ours.bias.assign(tensors[prefix + theirs + ".bias"])
    for ours, theirs in _block_norms(block):
        ours.gamma.assign(tensors[prefix + theirs + ".weight"])
        ours.beta.assign(tensors[prefix + theirs + ".bias"])


QKV_NAMES = ("query", "key", "value")


def _block_dense_layers(block):
    return ((block.attention.output_projection, "attention.output.dense"),
            (block.mlp_hidden, "intermediate.dense"), (block.mlp_output, "output.dense"))


def _block_norms(block):
    return ((block.attention_norm, "layernorm_before"), (block.mlp_norm, "layernorm_after"))


def write_vit_folder(encoder, folder):
    """Write `config.json` and `model.safetensors` of `encoder` into `folder`
    (which must exist)."""
    with open(os.path.join(folder, CONFIG_FILE), "w") as file:
        json.dump(vit_config(encoder), file, indent=2)
    # Named as in the hub's ViT checkpoints (`vit.` first): keras-hub's loader
    # wants it, and transformers' ViTModel strips it.
    tensors = {PREFIX + name: value for name, value in encoder_tensors(encoder).items()}
    safetensors_numpy().save_file(tensors, os.path.join(folder, WEIGHTS_FILE), metadata={"format": "pt"})


def read_vit_folder(folder):
    """`(config dict, {name: array})` of a Hugging Face ViT folder; names
    without the `vit.` prefix of the hub's checkpoints, when they have it."""
    config_path, weights_path = os.path.join(folder, CONFIG_FILE), os.path.join(folder, WEIGHTS_FILE)
    for path in (config_path, weights_path):
        if not os.path.isfile(path):
            raise ValueError(f"`folder` {folder!r} is not a Hugging Face ViT folder: {path} is missing.")
    with open(config_path) as file:
        config = json.load(file)
    if config.get("model_type") != "vit":
        raise ValueError(f"{config_path} describes a {config.get('model_type')!r} model, not 'vit'.")
    tensors = {name.removeprefix(PREFIX): value for name, value in safetensors_numpy().load_file(weights_path).items()}
    return config, tensors


def encoder_settings(config):
    """The `ViTEncoder` arguments of a ViT `config.json` dict."""
    return dict(image_size=config["image_size"], patch_size=config["patch_size"],
                num_channels=config.get("num_channels", 3), hidden_dim=config["hidden_size"],
                depth=config["num_hidden_layers"], num_heads=config["num_attention_heads"],
                mlp_ratio=config["intermediate_size"] / config["hidden_size"],
                layer_norm_epsilon=config.get("layer_norm_eps", 1e-12))


def check_matches(encoder, config, folder):
    """`ValueError` naming both values when `config` is not `encoder`'s size."""
    wanted = encoder_settings(config)
    for name in ("image_size", "patch_size", "num_channels", "hidden_dim", "depth", "num_heads", "mlp_ratio"):
        ours = getattr(encoder, name)
        ours = ours[0] if name == "image_size" else ours
        if ours != wanted[name]:
            raise ValueError(f"The ViT in {folder} has {name}={wanted[name]}, this encoder {name}={ours}; "
                             f"start from a folder of the same size, or choose a preset of its size.")


def load_vit_weights(encoder, folder):
    """Set the weights of `encoder` (built) from the Hugging Face ViT folder
    `folder`, of the same size (refused otherwise, naming both values). The
    folder's position embedding must be our fixed sin-cos table (a folder
    this package exported); another one is refused, since the encoder's
    positions are not learned."""
    check_exportable(encoder)
    config, tensors = read_vit_folder(folder)
    check_matches(encoder, config, folder)
    expected = encoder_tensors(encoder)
    check_tensors(tensors, expected, f"{folder}/{WEIGHTS_FILE}")
    positions = tensors["embeddings.position_embeddings"]
    if not np.allclose(positions, expected["embeddings.position_embeddings"], atol=1e-5):
        raise ValueError(f"The ViT in {folder} has learned position embeddings; this encoder uses a fixed "
                         f"2-D sin-cos table, so it cannot start from them.")
    assign_encoder(encoder, tensors)


def check_tensors(tensors, expected, where):
    """`ValueError` naming the first tensor of `expected` (`{name: array}`)
    that `tensors` (read from `where`) lacks or holds in another shape."""
    missing = sorted(set(expected) - set(tensors))
    if missing:
        raise ValueError(f"{where} lacks {len(missing)} tensor(s) of this model, e.g. {missing[0]}.")
    for name, ours in expected.items():
        if tensors[name].shape != ours.shape:
            raise ValueError(f"{where}: {name} has shape {tensors[name].shape}, this model's {ours.shape}.")


def assign_encoder(encoder, tensors):
    """Set `encoder` (built) from `{name: array}` in the ViT layout (no
    `vit.` prefix); the position table is the encoder's own, not read."""
    dim, p, channels = encoder.hidden_dim, encoder.patch_size, encoder.num_channels
    weight = tensors["embeddings.patch_embeddings.projection.weight"]  # (D, C, p, p)
    encoder.patch_embedding.projection.kernel.assign(weight.transpose(2, 3, 1, 0).reshape(p * p * channels, dim))
    encoder.patch_embedding.projection.bias.assign(tensors["embeddings.patch_embeddings.projection.bias"])
    encoder.cls_token.assign(tensors["embeddings.cls_token"])
    encoder.final_norm.gamma.assign(tensors["layernorm.weight"])
    encoder.final_norm.beta.assign(tensors["layernorm.bias"])
    for index, block in enumerate(encoder.blocks):
        assign_block(block, tensors, f"encoder.layer.{index}.")
