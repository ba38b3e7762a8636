"""Analytic FLOP counts of a DSMAE training step (for MFU figures)."""


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


def training_flops_per_image(model):
    """Matmul FLOPs of one training step per image of a `DSMAE`.

    The trained student parts (patch embedding of every patch, encoder on
    the visible tokens, decoder on all tokens, heads) count 3× their forward
    pass (forward + two backward matmuls); the teacher's forward pass over
    the clean image counts once. Norms, softmax and the optimizer are left
    out, as in the usual MFU convention.

    Args:
        model: a built `DSMAE`.

    Returns:
        float FLOPs per image.
    """
    enc, dec = model.encoder, model.decoder
    prefix = enc.num_prefix_tokens
    n, k, d, p = enc.num_patches, model.num_visible, enc.hidden_dim, enc.patch_dim
    student = 2 * n * p * d
    student += transformer_flops(k + prefix, d, enc.mlp_ratio, enc.depth)
    student += 2 * (k + prefix) * d * dec.decoder_dim
    student += transformer_flops(n + prefix, dec.decoder_dim, dec.mlp_ratio, dec.depth)
    student += 2 * n * dec.decoder_dim * (dec.pixel_dim + dec.feature_dim)
    teacher = 0
    if model.teacher is not None:
        teacher = 2 * n * p * d + transformer_flops(n + prefix, d, enc.mlp_ratio, enc.depth)
    return model.num_views * 3 * student + teacher
