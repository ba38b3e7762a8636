"""Analytic FLOP counts of a DSMAE training step (for MFU figures and
compute-matched comparisons)."""


def transformer_flops(tokens, width, mlp_ratio, depth):
    """Forward FLOPs (2 per multiply-add) of `depth` pre-norm ViT blocks.

    Args:
        tokens: sequence length `T`.
        width: token width `D`.
        mlp_ratio: MLP width as a multiple of `D`.
        depth: number of blocks.

    Returns:
        int-valued float: QKV, output and MLP projections plus the two
        attention matmuls, `depth × (2T(4 + 2r)D² + 4T²D)`.
    """
    dense = 2 * tokens * (4 + 2 * mlp_ratio) * width * width
    attention = 4 * tokens * tokens * width
    return depth * (dense + attention)


def decoder_flops(decoder, visible_tokens, encoder_dim, num_patches):
    """Forward FLOPs of a `MaskedDecoder` on one view: the input projection
    of the visible tokens, its blocks over every patch (and prefix token),
    and its pixel and feature heads on every patch."""
    tokens = num_patches + decoder.num_prefix_tokens
    flops = 2 * visible_tokens * encoder_dim * decoder.decoder_dim
    flops += transformer_flops(tokens, decoder.decoder_dim, decoder.mlp_ratio, decoder.depth)
    return flops + 2 * num_patches * decoder.decoder_dim * (decoder.pixel_dim + decoder.feature_dim)


def teacher_flops(model):
    """Forward FLOPs of the teacher per image: one pass over the clean image
    (`"full"`, `"layer_average"` targets), however many masked copies the
    student sees; or, for the `"masked"` target, one pass over the hidden
    patches of each copy, in `num_folds` sequences. 0 without a teacher."""
    if model.teacher is None:
        return 0
    enc = model.encoder
    n, prefix, d = enc.num_patches, enc.num_prefix_tokens, enc.hidden_dim
    embed = 2 * n * enc.patch_dim * d
    folds = getattr(model.teacher_target, "num_folds", None)
    if model.teacher_target.name != "masked" or folds is None:
        return embed + transformer_flops(n + prefix, d, enc.mlp_ratio, enc.depth)
    hidden = n - model.num_visible
    encode = folds * transformer_flops(hidden // folds + prefix, d, enc.mlp_ratio, enc.depth)
    return embed + model.num_views * encode


def training_flops_per_image(model):
    """Matmul FLOPs of one training step per image of a `DSMAE`.

    The trained student parts (patch embedding of every patch, encoder on
    the visible tokens, decoder on all tokens, a separate feature predictor,
    the heads) count 3× their forward pass (forward + two backward matmuls),
    once per view or masked copy (`masks_per_image`); the teacher's forward
    pass counts once (see `teacher_flops`). Norms, softmax, the EMA and the
    optimizer are left out, as in the usual MFU convention.

    Args:
        model: a built `DSMAE`.

    Returns:
        float FLOPs per image.
    """
    enc = model.encoder
    prefix = enc.num_prefix_tokens
    n, k, d, p = enc.num_patches, model.num_visible, enc.hidden_dim, enc.patch_dim
    student = 2 * n * p * d + transformer_flops(k + prefix, d, enc.mlp_ratio, enc.depth)
    for decoder in (model.decoder, model.feature_predictor):
        if decoder is not None:
            student += decoder_flops(decoder, k + prefix, d, n)
    if model.image_head is not None:
        student += 2 * d * d
    return model.num_views * 3 * student + teacher_flops(model)
