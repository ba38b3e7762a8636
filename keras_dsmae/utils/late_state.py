"""Adding layers to a model after it was built."""

import contextlib


@contextlib.contextmanager
def adding_state(layer):
    """Let `layer` (built, so Keras locked its state) take new sub-layers
    and variables inside the block, then lock it again. For state that
    depends on what the model is fed, not on its config (see
    `DSMAE.use_device_input`); Keras' own rebuild path unlocks the same way."""
    tracker = layer._tracker
    was_locked = tracker.locked
    tracker.unlock()
    try:
        yield
    finally:
        if was_locked:
            tracker.lock()
