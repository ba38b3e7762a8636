"""Checks that numbers (weights, losses) are finite before they are kept."""

import math

import keras
import numpy as np


def non_finite_variables(variables):
    """Paths of the variables holding NaN or ±inf (empty when all are finite).

    Args:
        variables: Keras variables (model weights, optimizer variables).

    Returns:
        list of `variable.path` strings.
    """
    bad = []
    for variable in variables:
        if "float" not in keras.backend.standardize_dtype(variable.dtype):
            continue  # integers are always finite (and resident uint8 data is large)
        values = keras.ops.convert_to_numpy(variable)
        if not np.isfinite(values).all():
            bad.append(variable.path)
    return bad


def is_finite_number(value):
    """True for a finite Python/numpy number; False for NaN, ±inf or non-numbers."""
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
