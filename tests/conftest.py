"""The environment and the per-test reset; the shared builders live in
`tests/helpers/`, and no test imports this file. Tests run under whatever
`KERAS_BACKEND` is set; CI runs the whole suite once per backend
(tensorflow, jax, torch)."""

import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# On JAX most of a tiny test's time is XLA compiling its train step, and many
# tests compile the same step (same tiny model, same shapes). JAX's
# persistent compilation cache (keyed by the program, without debug info)
# lets later tests, the other xdist worker and the tests' subprocesses,
# which inherit these variables, reuse a compiled step. It changes no result.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(tempfile.gettempdir(), "keras_dsmae_tests_jax_cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _reset_keras_state():
    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(1234)
    yield
    keras.config.set_dtype_policy("float32")
    # Without the full garbage collection Keras adds by default: it took 1-4 s
    # per test on TensorFlow (a quarter of the suite's time); Python's own
    # collector still frees what the test left behind.
    keras.backend.clear_session(free_memory=False)
