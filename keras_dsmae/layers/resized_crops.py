"""Random resized crops of a whole batch at once, inside the compiled step.

Each image gets its own box, drawn the way the host pipeline draws it
(`tf.image.stateless_sample_distorted_bounding_box` with `max_attempts=10`:
an aspect ratio uniform in `ratio`, an integer height uniform between the
smallest and largest that give an area in `scale`, a uniform offset, and the
whole image when no attempt fits). The crop, the resize and the flip are
then two small interpolation matrices per image, `(B, H, H0)` and
`(B, W, W0)`, applied with two batched `einsum`s: no gathers, no Python loop
over the batch, static shapes, so XLA (TensorFlow, JAX) and `torch.compile`
take it as it is. Resampling is bilinear (a triangle filter widened by the
shrink factor when a crop is larger than the output, as antialiased resizing
does), with the edge pixels repeated: the same as resizing the cropped
window alone.
"""

from keras import ops

CROP_ATTEMPTS = 10  # as the host pipeline's sample_distorted_bounding_box
DRAWS_PER_IMAGE = 2 * CROP_ATTEMPTS + 3  # per attempt: ratio, height; then top, left, flip
DEFAULT_RATIO = (3 / 4, 4 / 3)


def crop_boxes(draws, image_size, scale, ratio=DEFAULT_RATIO):
    """Integer crop boxes from uniform draws, one per image.

    Args:
        draws: `(B, DRAWS_PER_IMAGE)` float32 uniforms in [0, 1).
        image_size: `(H0, W0)` of the images the boxes are cut from.
        scale: `(low, high)` area range as a fraction of the image.
        ratio: `(low, high)` aspect-ratio (width / height) range.

    Returns:
        `(top, left, height, width)`, each `(B,)` float32 holding whole
        pixel counts.
    """
    height0, width0 = float(image_size[0]), float(image_size[1])
    min_area = scale[0] * height0 * width0
    max_area = scale[1] * height0 * width0
    draws = ops.cast(draws, "float32")
    aspect = ratio[0] + (ratio[1] - ratio[0]) * draws[:, :CROP_ATTEMPTS]  # (B, A)
    low = ops.round(ops.sqrt(min_area / aspect))
    high = ops.round(ops.sqrt(max_area / aspect))
    too_wide = ops.round(high * aspect) > width0
    high = ops.where(too_wide, ops.floor((width0 + 0.5 - 1e-7) / aspect), high)
    high = ops.where(ops.round(high * aspect) > width0, high - 1.0, high)
    high = ops.minimum(high, height0)
    low = ops.minimum(low, high)
    height = low + ops.minimum(
        ops.floor(draws[:, CROP_ATTEMPTS:2 * CROP_ATTEMPTS] * (high - low + 1.0)), high - low)
    width = ops.round(height * aspect)
    height = ops.where(width * height < min_area, height + 1.0, height)
    width = ops.round(height * aspect)
    height = ops.where(width * height > max_area, height - 1.0, height)
    width = ops.round(height * aspect)
    area = width * height
    fits = ((area >= min_area) & (area <= max_area) & (width <= width0) & (height <= height0)
            & (width > 0) & (height > 0))
    first = ops.expand_dims(ops.argmax(ops.cast(fits, "int32"), axis=1), 1)  # first fitting attempt
    found = ops.any(fits, axis=1)
    height = ops.where(found, ops.take_along_axis(height, first, axis=1)[:, 0], height0)
    width = ops.where(found, ops.take_along_axis(width, first, axis=1)[:, 0], width0)
    top = ops.floor(draws[:, 2 * CROP_ATTEMPTS] * (height0 - height))
    left = ops.floor(draws[:, 2 * CROP_ATTEMPTS + 1] * (width0 - width))
    return top, left, height, width


def flip_draws(draws):
    """`(B,)` bool: which images to flip left to right (half of them)."""
    return ops.cast(draws, "float32")[:, 2 * CROP_ATTEMPTS + 2] < 0.5


def whole_image_boxes(batch, image_size):
    """`(top, left, height, width)` boxes that cover `image_size` `(H0, W0)`
    for each of `batch` images."""
    zeros = ops.zeros((batch,), "float32")
    return zeros, zeros, zeros + float(image_size[0]), zeros + float(image_size[1])


def interpolation_matrix(start, length, input_size, output_size, antialias=True):
    """Weights that resample the window `[start, start + length)` of an axis
    of `input_size` pixels to `output_size` pixels (pixel centres aligned,
    as `tf.image.resize` does).

    Args:
        start, length: `(B,)` float32 window of each image, in pixels.
        input_size, output_size: ints.
        antialias: widen the triangle filter by the shrink factor when the
            window is longer than the output.

    Returns:
        `(B, output_size, input_size)` float32; each row sums to 1.
    """
    start = ops.expand_dims(ops.cast(start, "float32"), 1)
    length = ops.expand_dims(ops.cast(length, "float32"), 1)
    centres = ops.cast(ops.arange(output_size), "float32")[None, :] + 0.5
    source = start + centres * (length / output_size) - 0.5  # (B, out)
    width = ops.maximum(length / output_size, 1.0) if antialias else ops.ones_like(length)
    pixels = ops.cast(ops.arange(input_size), "float32")[None, None, :]
    weights = ops.relu(1.0 - ops.abs(ops.expand_dims(source, 2) - pixels) / ops.expand_dims(width, 2))
    inside = (pixels >= ops.expand_dims(start, 2)) & (pixels < ops.expand_dims(start + length, 2))
    weights = ops.where(inside, weights, 0.0)
    return weights / ops.maximum(ops.sum(weights, axis=2, keepdims=True), 1e-12)


def crop_resize_flip(images, boxes, flips, output_size, antialias=True):
    """Cut each image's box, resize it to `output_size` and flip the chosen
    images left to right.

    Args:
        images: `(B, H0, W0, C)` float32.
        boxes: `(top, left, height, width)`, each `(B,)`, in pixels.
        flips: `(B,)` bool, or None for no flips.
        output_size: `(H, W)`.
        antialias: see `interpolation_matrix`.

    Returns:
        `(B, H, W, C)` float32.
    """
    top, left, height, width = boxes
    input_height, input_width = images.shape[1], images.shape[2]
    rows = interpolation_matrix(top, height, input_height, output_size[0], antialias)
    columns = interpolation_matrix(left, width, input_width, output_size[1], antialias)
    if flips is not None:
        columns = ops.where(ops.reshape(flips, (-1, 1, 1)), ops.flip(columns, axis=1), columns)
    resized = ops.einsum("bih,bhwc->biwc", rows, ops.cast(images, "float32"))
    return ops.einsum("bjw,biwc->bijc", columns, resized)
