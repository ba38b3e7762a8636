"""Losses of the first two epochs of every preset with a fixed seed.

Used to prove that a refactoring keeps behaviour: run it on two versions of
the code and compare, or let `tests/models/test_preset_losses.py` compare the small
configuration with the figures stored in `tests/fixtures/preset_losses.json`.

Usage:
    KERAS_BACKEND=jax python tests/helpers/preset_losses.py [--full] [--out FILE]

`--full` trains the presets at their real size (ViT-Tiny, minutes on a
CPU); without it, each preset is shrunk to a 2-block, 32-wide model that
keeps every method setting (noise, teacher view, folds, contrast).
"""

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_dsmae  # noqa: E402

SMALL = dict(
    encoder_dim=32, encoder_depth=2, encoder_heads=2,
    decoder_dim=32, decoder_depth=1, decoder_heads=2, mlp_ratio=2.0,
)
EPOCHS, STEPS, BATCH = 2, 2, 8
LOSS_NAMES = ("loss", "pixel_loss", "feature_loss", "contrast_loss")


def images_for(model, seed=0):
    """Smooth random images in the model's shape, `(STEPS*BATCH, H, W, C)`."""
    height, width = model.encoder.image_size
    rng = np.random.RandomState(seed)
    noise = rng.normal(size=(STEPS * BATCH, height // 4, width // 4, model.encoder.num_channels))
    smooth = np.repeat(np.repeat(noise, 4, axis=1), 4, axis=2)
    return smooth.astype("float32")


def preset_losses(name, full=False):
    """`{loss name: [epoch 1, epoch 2]}` of preset `name`, trained with seed 0."""
    keras.utils.set_random_seed(0)
    overrides = {} if full else SMALL
    model = keras_dsmae.DSMAE.from_preset(name, seed=0, **overrides)
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=1e-3))
    callbacks = [keras_dsmae.callbacks.TeacherEMA()] if model.teacher is not None else []
    history = model.fit(
        images_for(model), batch_size=BATCH, epochs=EPOCHS, shuffle=False,
        callbacks=callbacks, verbose=0,
    )
    return {key: [float(v) for v in values] for key, values in history.history.items()
            if key in LOSS_NAMES}


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    results = {name: preset_losses(name, args.full) for name in keras_dsmae.presets.list_presets()}
    text = json.dumps({keras.backend.backend(): results}, indent=1, sort_keys=True)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main(sys.argv[1:])
