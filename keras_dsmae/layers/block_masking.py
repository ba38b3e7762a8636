"""Block-wise masking (BEiT) and inverse block masking (data2vec 2.0):
contiguous regions of the patch grid, hidden or shown, with the exact
visible count of `PatchMasking`."""

import math

import keras
from keras import ops

from keras_dsmae.layers.masking import PatchMasking, register_masking
from keras_dsmae.utils import validation
from keras_dsmae.utils.knob import Knob


def grid_of(num_patches, grid_size):
    """`(rows, columns)` of the patch grid: `grid_size`, or the square one of
    `num_patches` when it is None.

    Raises:
        ValueError: `grid_size` does not hold `num_patches`, or it is None
            and `num_patches` is not a square.
    """
    if grid_size is None:
        side = math.isqrt(num_patches)
        if side * side != num_patches:
            raise ValueError(f"Block masking of {num_patches} patches needs `grid_size` (rows, columns): "
                             f"{num_patches} is not a square grid. Got grid_size=None.")
        return side, side
    rows, columns = grid_size
    if rows * columns != num_patches:
        raise ValueError(f"`grid_size`={tuple(grid_size)} holds {rows * columns} patches; the tokens have "
                         f"{num_patches}.")
    return rows, columns


def distance_to_blocks(centres, grid):
    """`(B, N)` float32 distance of every patch to its nearest block centre:
    the Chebyshev (square-ring) distance, then within a ring the Euclidean
    one as a fraction below 0.5, so that growing a block ring by ring takes
    the cells beside the block before its corners (one block stays
    4-connected at any size).

    Args:
        centres: `(B, C, 2)` float32 (row, column) of each block's centre.
        grid: `(rows, columns)`.
    """
    rows, columns = grid
    row = ops.cast(ops.repeat(ops.arange(rows), columns), "float32")
    column = ops.cast(ops.tile(ops.arange(columns), rows), "float32")
    d_row = ops.abs(row[None, None, :] - centres[:, :, :1])
    d_column = ops.abs(column[None, None, :] - centres[:, :, 1:])
    ring = ops.maximum(d_row, d_column)
    within = 0.5 * (d_row * d_row + d_column * d_column) / float(rows * rows + columns * columns)
    return ops.min(ring + within, axis=1)


class BlockMaskingBase(PatchMasking):
    """Masks made of square blocks grown ring by ring around `num_blocks`
    random centres on the patch grid, until the asked count is reached: the
    hidden patches (`block`) or the visible ones (`inverse_block`). Blocks
    that meet merge; ties within a ring are broken at random.

    Args:
        mask_ratio, seed, visible_rounding, masks_per_image: see `PatchMasking`.
        num_blocks: block centres per sample.
        grid_size: `(rows, columns)` of the patch grid (the model passes
            its encoder's); None: a square grid.

    Call arguments and returns: `PatchMasking`.
    """

    inverse = False
    uses_grid = True

    def __init__(self, mask_ratio, num_blocks=4, grid_size=None, **kwargs):
        super().__init__(mask_ratio, **kwargs)
        self.num_blocks = validation.check_int(self.BLOCKS_KNOB, num_blocks, minimum=1)
        self.grid_size = None if grid_size is None else tuple(int(side) for side in grid_size)

    def scores(self, tokens):
        batch, num_patches = ops.shape(tokens)[0], tokens.shape[1]
        rows, columns = grid_of(num_patches, self.grid_size)
        draws = keras.random.uniform((batch, self.num_blocks + num_patches), seed=self.seed_generator)
        # centres on whole cells: (row, column) from one uniform draw each
        cells = ops.floor(draws[:, : self.num_blocks] * (rows * columns))
        row = ops.floor(cells / columns)
        centres = ops.stack([row, cells - columns * row], axis=-1)
        distance = distance_to_blocks(centres, (rows, columns))
        # ties within a ring: below the smallest Euclidean step of `distance_to_blocks`
        distance = distance + draws[:, self.num_blocks:] * (0.25 / (rows * rows + columns * columns))
        return distance if self.inverse else -distance  # the lowest scores stay visible

    def get_config(self):
        return {**super().get_config(), "grid_size": self.grid_size}


@register_masking("block")
class BlockMasking(BlockMaskingBase):
    """BEiT-style block-wise masking: the hidden patches are square blocks
    around `num_blocks` random centres (see `BlockMaskingBase`)."""

    BLOCKS_KNOB = "mask_blocks"
    KNOBS = {BLOCKS_KNOB: Knob(
        4, "hidden blocks per image with `masking='block'` (square blocks grown around random centres "
        "until the masked count is reached).", kind="int", low=1, part="corruption", argument="num_blocks")}


@register_masking("inverse_block")
class InverseBlockMasking(BlockMaskingBase):
    """data2vec 2.0's inverse block masking: the visible patches are square
    blocks around `num_blocks` random centres, everything else is hidden
    (see `BlockMaskingBase`)."""

    inverse = True
    BLOCKS_KNOB = "visible_blocks"
    KNOBS = {BLOCKS_KNOB: Knob(
        4, "visible blocks per image with `masking='inverse_block'` (the student sees square blocks "
        "grown around random centres; the rest is hidden).", kind="int", low=1, part="corruption",
        argument="num_blocks")}
