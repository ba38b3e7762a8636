"""Block-wise and inverse block masking: the exact visible count, blocks as
contiguous as specified, reproducible from the seed."""

import os
import re

import numpy as np
import pytest

from keras_dsmae.layers import MASKING_STRATEGIES, BlockMasking, InverseBlockMasking, RandomMasking
from keras_dsmae.layers.masking import num_visible_patches
from tests.helpers.builders import tiny_model, to_numpy
from tests.helpers.paths import REPO


def _components(cells, grid):
    """4-connected components of a boolean `grid`-shaped array of cells."""
    cells, seen, count = cells.reshape(grid), np.zeros(grid, bool), 0
    for start in zip(*np.nonzero(cells)):
        if seen[start]:
            continue
        count, stack = count + 1, [start]
        while stack:
            r, c = stack.pop()
            if not (0 <= r < grid[0] and 0 <= c < grid[1]) or seen[r, c] or not cells[r, c]:
                continue
            seen[r, c] = True
            stack += [(r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)]
    return count


def _border(masks, grid):
    """Mean count of neighbouring patch pairs of which one is hidden and one visible."""
    masks = masks.reshape(-1, *grid)
    rows = (masks[:, 1:, :] != masks[:, :-1, :]).sum(axis=(1, 2))
    columns = (masks[:, :, 1:] != masks[:, :, :-1]).sum(axis=(1, 2))
    return float(np.mean(rows + columns))


def _draw(layer, batch, num_patches, calls=1):
    tokens = np.zeros((batch, num_patches, 3), "float32")
    return [to_numpy(layer(tokens)["mask"]) for _ in range(calls)]


@pytest.mark.parametrize("cls, grid, ratio", [
    (BlockMasking, (8, 8), 0.75), (BlockMasking, (6, 10), 0.4), (InverseBlockMasking, (8, 8), 0.8),
    (InverseBlockMasking, (7, 7), 0.6),
])
def test_one_block_is_one_contiguous_region_with_the_exact_visible_count(cls, grid, ratio):
    n = grid[0] * grid[1]
    keep = num_visible_patches(n, ratio)
    (mask,) = _draw(cls(ratio, num_blocks=1, grid_size=grid, seed=3), 16, n)
    assert (mask.sum(axis=1) == n - keep).all()  # static shapes: exactly K visible, every image
    block = mask == 1 if cls is BlockMasking else mask == 0  # hidden blocks, or visible ones
    assert [_components(row, grid) for row in block] == [1] * 16
    assert len({row.tobytes() for row in mask}) > 8  # each image its own block


@pytest.mark.parametrize("cls", [BlockMasking, InverseBlockMasking])
def test_several_blocks_make_at_most_that_many_regions_and_reproduce_from_the_seed(cls):
    grid, blocks = (14, 14), 3
    first = _draw(cls(0.75, num_blocks=blocks, grid_size=grid, seed=5), 8, 196, calls=2)
    again = _draw(cls(0.75, num_blocks=blocks, grid_size=grid, seed=5), 8, 196, calls=2)
    other = _draw(cls(0.75, num_blocks=blocks, grid_size=grid, seed=6), 8, 196)
    for one, two in zip(first, again):
        np.testing.assert_array_equal(one, two)
    assert not np.array_equal(first[0], first[1])  # each call draws anew
    assert not np.array_equal(first[0], other[0])
    block = first[0] == 1 if cls is BlockMasking else first[0] == 0
    counts = [_components(row, grid) for row in block]
    assert max(counts) <= blocks and (first[0].sum(axis=1) == 196 - 49).all()
    # random masking of the same count scatters its patches: a far longer hidden/visible border
    random = _draw(RandomMasking(0.75, seed=5), 8, 196)[0]
    assert _border(first[0], grid) < 0.5 * _border(random, grid)


def test_block_settings_are_checked_and_a_non_square_grid_needs_its_size():
    with pytest.raises(ValueError, match=r"`mask_blocks`.*0"):
        BlockMasking(0.75, num_blocks=0)
    with pytest.raises(ValueError, match=r"`visible_blocks`.*-1"):
        InverseBlockMasking(0.75, num_blocks=-1)
    with pytest.raises(ValueError, match=r"needs `grid_size`.*60 is not a square"):
        _draw(BlockMasking(0.75), 2, 60)
    with pytest.raises(ValueError, match=r"grid_size.*\(6, 6\).*36.*60"):
        _draw(BlockMasking(0.75, grid_size=(6, 6)), 2, 60)
    config = BlockMasking(0.6, num_blocks=2, grid_size=(6, 10), masks_per_image=3, seed=1).get_config()
    rebuilt = BlockMasking.from_config(config)
    assert (rebuilt.num_blocks, rebuilt.grid_size, rebuilt.masks_per_image) == (2, (6, 10), 3)


def test_the_contributors_pages_new_strategy_registers_and_masks_as_it_says():
    with open(os.path.join(REPO, "keras_dsmae", "README.md")) as file:
        [example] = [block for block in re.findall(r"```python\n(.*?)```", file.read(), re.S)
                     if "register_masking(" in block]
    try:
        exec(example, {})
        model = tiny_model(masking="checkerboard", mask_ratio=0.5, seed=0)
        mask = to_numpy(model(np.zeros((2, 16, 16, 3), "float32"))["mask"])
        np.testing.assert_array_equal(mask, np.tile(np.arange(16) % 2, (2, 1)))  # odd patches hidden
        assert model.get_config()["masking"] == "checkerboard"
    finally:
        MASKING_STRATEGIES.pop("checkerboard", None)
