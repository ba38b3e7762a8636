"""transformers' ViTMAE (the port of facebookresearch/mae) as the tests'
reference: its fixed position table from the formula, and a tiny model of
it whose tables are that formula (transformers 5.x leaves them zero in a
model built from a config)."""

import numpy as np


def mae_sincos_table(grid, dim):
    """facebookresearch/mae's fixed position table, `(1, grid² + 1, dim)`,
    written from its formula: the first half of the channels encodes the
    column (its meshgrid puts the width first), the second half the row,
    each half `[sin(pos·ω_k), cos(pos·ω_k)]` with ω_k = 10000^(−k/(dim/4));
    a zero row for the class token first."""
    omega = 1.0 / 10000 ** (np.arange(dim // 4, dtype=np.float64) / (dim / 4))
    rows, cols = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
    halves = []
    for position in (cols.reshape(-1), rows.reshape(-1)):
        angles = position[:, None] * omega[None, :]
        halves += [np.sin(angles), np.cos(angles)]
    table = np.concatenate([np.zeros((1, dim)), np.concatenate(halves, axis=1)])
    return table[None].astype(np.float32)


def set_reference_tables(model):
    """Give a `ViTMAEForPreTraining` MAE's fixed position tables (not
    trained, as in facebookresearch/mae); returns the model."""
    import torch

    grid = model.config.image_size // model.config.patch_size
    for table in (model.vit.embeddings.position_embeddings, model.decoder.decoder_pos_embed):
        table.data = torch.from_numpy(mae_sincos_table(grid, table.shape[-1]))
        table.requires_grad_(False)
    return model


def tiny_vit_mae(image_size=16, patch_size=4, mask_ratio=0.75, norm_pix_loss=True, seed=0, tables=True):
    """A tiny `ViTMAEForPreTraining` (32 wide, 2 blocks; decoder 32 wide, 1
    block), every weight random; MAE's position tables unless `tables=False`."""
    import torch
    import transformers

    torch.manual_seed(seed)
    config = transformers.ViTMAEConfig(
        image_size=image_size, patch_size=patch_size, num_channels=3, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=64, decoder_hidden_size=32, decoder_num_hidden_layers=1,
        decoder_num_attention_heads=2, decoder_intermediate_size=64, mask_ratio=mask_ratio,
        norm_pix_loss=norm_pix_loss, attn_implementation="eager")
    model = transformers.ViTMAEForPreTraining(config)
    with torch.no_grad():  # every weight off its initial value (biases, norms, mask token too)
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
        if not tables:  # as transformers 5.x leaves them in a model built from a config
            model.vit.embeddings.position_embeddings.zero_()
            model.decoder.decoder_pos_embed.zero_()
    return (set_reference_tables(model) if tables else model).eval()
