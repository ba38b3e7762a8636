"""Same behaviour as before a refactoring: the first two epochs' losses of
every preset (shrunk to 2 blocks, seed 0) equal the recorded figures
(`tests/fixtures/preset_losses.json`, written by
`tests/helpers/preset_losses.py`) on this backend: recorded with 0.1.0, and
again when the MAE rules became the reference's (with 0.2's rules the old
figures still come out, to 4e-7)."""

import json
import os

import keras
import numpy as np
import pytest

from tests.helpers.paths import FIXTURES
from tests.helpers.preset_losses import preset_losses

REFERENCE = os.path.join(FIXTURES, "preset_losses.json")
# Float32 tolerance across CPUs; another mask seed moves these losses by >= 6e-4.
RTOL = 3e-5


def _reference():
    with open(REFERENCE) as file:
        return json.load(file)[keras.backend.backend()]


@pytest.mark.parametrize("preset", sorted(_reference()))
def test_preset_losses_match_the_recorded_ones(preset):
    expected = _reference()[preset]
    actual = preset_losses(preset)
    assert sorted(actual) == sorted(expected)
    for name in expected:
        np.testing.assert_allclose(actual[name], expected[name], rtol=RTOL, err_msg=f"{preset} {name}")
