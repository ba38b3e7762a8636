"""Argument checks that raise `ValueError` naming the argument, the value and
what is allowed. Used at construction time by every layer and model."""

import math
import numbers


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_int(name, value, minimum=None, maximum=None):
    """Require an integer in `[minimum, maximum]` (either bound optional)."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise ValueError(f"`{name}` must be an integer; got {name}={value!r}.")
    if minimum is not None and value < minimum:
        raise ValueError(
            f"`{name}` must be an integer >= {minimum}; got {name}={value!r}."
        )
    if maximum is not None and value > maximum:
        raise ValueError(
            f"`{name}` must be an integer <= {maximum}; got {name}={value!r}."
        )
    return int(value)


def interval(low=None, high=None, low_open=False, high_open=False):
    """An interval in words, e.g. `(0, 1)` or `[0, inf)`; None is unbounded."""
    left = "(" if low_open or low is None else "["
    right = ")" if high_open or high is None else "]"
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    return f"{left}{lo}, {hi}{right}"


def check_float(name, value, low=None, high=None, low_open=False, high_open=False):
    """Require a real number inside an interval.

    `low`/`high` are optional bounds; `*_open=True` excludes the bound.
    The message spells the interval, e.g. "in the open interval (0, 1)".
    """
    bounds = interval(low, high, low_open, high_open)

    if not _is_number(value):
        raise ValueError(
            f"`{name}` must be a number in {bounds}; got {name}={value!r}."
        )
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high or not math.isfinite(value):  # NaN and ±inf too
        raise ValueError(
            f"`{name}` must be a finite number in {bounds}; got {name}={value!r}."
        )
    return float(value)


def check_seed(name, value, allow_none=True):
    """Require a seed: an integer >= 0 (or None when `allow_none`)."""
    if value is None and allow_none:
        return None
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0:
        allowed = "an integer >= 0" + (" or None" if allow_none else "")
        raise ValueError(f"`{name}` must be {allowed}; got {name}={value!r}.")
    return int(value)


def check_choice(name, value, choices):
    """Require `value` to be one of `choices`."""
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(
            f"`{name}` must be one of {allowed}; got {name}={value!r}."
        )
    return value


def check_bool(name, value):
    if not isinstance(value, bool):
        raise ValueError(f"`{name}` must be True or False; got {name}={value!r}.")
    return value


def check_image_size(name, value):
    """Accept `int` or `(height, width)`; return a `(height, width)` tuple."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value, value)
    if (
        not isinstance(value, (tuple, list))
        or len(value) != 2
        or not all(isinstance(v, numbers.Integral) and v > 0 for v in value)
    ):
        raise ValueError(
            f"`{name}` must be a positive int or a (height, width) pair of "
            f"positive ints; got {name}={value!r}."
        )
    return (int(value[0]), int(value[1]))


def check_divisible(image_size, patch_size):
    """Require both image sides to be multiples of `patch_size`."""
    height, width = image_size
    if height % patch_size or width % patch_size:
        raise ValueError(
            f"`image_size` must be divisible by `patch_size`; got "
            f"image_size={tuple(image_size)} and patch_size={patch_size} "
            f"({height} % {patch_size} = {height % patch_size}, "
            f"{width} % {patch_size} = {width % patch_size}). Allowed: image "
            f"sides that are multiples of patch_size."
        )


def check_image_shape(images_shape, image_size, num_channels, name="images"):
    """Check the static `(B, H, W, C)` shape of an input batch.

    Unknown (None) dimensions are accepted; known ones must match.
    """
    expected = (*image_size, num_channels)
    if len(images_shape) != 4:
        raise ValueError(
            f"`{name}` must be a 4-D batch (batch, height, width, channels) "
            f"with (height, width, channels)={expected}; got shape "
            f"{tuple(images_shape)}."
        )
    for got, want in zip(images_shape[1:], expected):
        if got is not None and got != want:
            raise ValueError(
                f"`{name}` must have (height, width, channels)={expected}; "
                f"got shape {tuple(images_shape)}. Resize the images or build "
                f"the model with a matching `image_size`/`num_channels`."
            )


def check_width_and_heads(width_name, width, heads_name, heads):
    """Require a token width >= 4 that `heads` attention heads divide,
    naming the caller's own arguments."""
    check_int(width_name, width, minimum=4)
    check_int(heads_name, heads, minimum=1)
    if width % heads:
        raise ValueError(
            f"`{width_name}` must be a multiple of `{heads_name}`; got "
            f"{width_name}={width} and {heads_name}={heads}. Allowed: e.g. "
            f"{heads_name}={_largest_divisor_at_most(width, heads)}."
        )


def _largest_divisor_at_most(number, limit):
    return max(d for d in range(1, min(number, limit) + 1) if number % d == 0)
