"""Where should the pretraining augmentation run? Host feed and fit rate
of each placement, side by side in one run.

1. Host feed (no model): images/s of the batches `fit` receives from
   `data.from_arrays` for CIFAR-shaped uint8 data (50k 32×32×3, batch 256):
   `augment_on="host"` (tf.data crops, flips and normalises: float32
   batches), `"device"` over the resident budget (uint8 batches), and
   `"device"` resident (index batches).
2. Fit rate: images/s of `fit` steps of a preset (default
   `dsmae_vit_tiny_cifar`, float32) through the host pipeline, device
   augmentation of uint8 batches, resident data, and in-memory
   pre-augmented float arrays (the upper bound: no input work at all), in
   `--rounds` interleaved rounds (the median is printed), for MAE and the
   preset, with `jit_compile` as Keras resolves it ("auto") and, with
   `--jit`, forced on (XLA on TensorFlow, `torch.compile` on torch; JAX
   always compiles).

    python benchmarks/device_feed.py                      # KERAS_BACKEND, default torch
    KERAS_BACKEND=tensorflow python benchmarks/device_feed.py --jit=auto,true
    python benchmarks/device_feed.py --smoke              # tiny and quick, to check the script

Writes `benchmarks/results/device_feed_<backend>.json` (or `--json_out`).
"""

import os
import platform
import statistics
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "torch")

from absl import app, flags  # noqa: E402

flags.DEFINE_string("preset", "dsmae_vit_tiny_cifar", "Preset of the fit-rate rows.")
flags.DEFINE_integer("examples", 50_000, "uint8 images of the data set.")
flags.DEFINE_integer("feed_batch_size", 256, "Images per batch of the host-feed rows.")
flags.DEFINE_integer("feed_batches", 200, "Batches timed per host-feed row (after 5 warm-up).")
flags.DEFINE_integer("batch_size", 128, "Images per fit step.")
flags.DEFINE_integer("steps", 8, "Timed fit steps per row and round (after --warmup_steps).")
flags.DEFINE_integer("warmup_steps", 3, "Untimed fit steps per row and round.")
flags.DEFINE_integer("rounds", 2, "Interleaved rounds of the fit rows.")
flags.DEFINE_list("variants", ["mae", "dsmae"], "mae (no noise, no teacher) and/or dsmae (the preset).")
flags.DEFINE_list("jit", ["auto"], "jit_compile settings to measure: auto and/or true.")
flags.DEFINE_list("placements", ["host", "device", "resident", "arrays"], "Fit-rate placements to measure.")
flags.DEFINE_bool("host_feed", True, "Also measure the host feed (no model).")
flags.DEFINE_bool("smoke", False, "A tiny model and few steps: checks that the script runs.")
flags.DEFINE_string("json_out", None, "Where to write the figures (default under benchmarks/results).")
FLAGS = flags.FLAGS
PLACEMENTS = ("host", "device", "resident", "arrays")


def placement_dataset(images, placement, batch_size, normalization):
    """`from_arrays` training batches for `placement`: host, device (uint8
    batches, as for data over the resident budget) or resident (indices)."""
    from keras_dsmae import data
    from keras_dsmae.data import device_feed

    limit = device_feed.RESIDENT_LIMIT_BYTES
    if placement == "device":
        device_feed.RESIDENT_LIMIT_BYTES = 0
    try:
        return data.from_arrays(images, batch_size=batch_size, seed=0, normalization=normalization,
                                augment_on="host" if placement == "host" else "device")
    finally:
        device_feed.RESIDENT_LIMIT_BYTES = limit


def host_feed_rows(images, normalization):
    """Images/s of iterating each placement's batches, without a model."""
    rows = {}
    for placement in ("host", "device", "resident"):
        stream = iter(placement_dataset(images, placement, FLAGS.feed_batch_size, normalization).repeat())
        for _ in range(5):
            next(stream)
        start = time.perf_counter()
        for _ in range(FLAGS.feed_batches):
            next(stream)
        rows[placement] = FLAGS.feed_batches * FLAGS.feed_batch_size / (time.perf_counter() - start)
        print(f"  host feed, {placement}: {rows[placement]:,.0f} img/s", flush=True)
    return rows


class StepClock:
    """Wall time of the training steps after the warm-up, and of the
    start-up before them (tracing and compiling, plus the first step)."""

    def __init__(self, warmup):
        import keras

        clock = self

        class Callback(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                clock.began = time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                if batch == 0:
                    clock.first_step = time.perf_counter()
                if batch + 1 == warmup:
                    clock.start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                clock.end = time.perf_counter()

        self.callback = Callback()
        self.began = self.first_step = self.start = self.end = None

    def startup_seconds(self):
        """From the start of `fit` to the end of its first step."""
        return self.first_step - self.began


def fit_rate(config, placement, images, normalization, jit):
    """`(images/s of the steps after the warm-up, seconds to the end of
    the first step, the resolved jit_compile)` of `fit` on a fresh model."""
    import keras
    import numpy as np

    import keras_dsmae

    keras.utils.set_random_seed(0)
    model = keras_dsmae.DSMAE(**config)
    model.compile(optimizer=keras.optimizers.AdamW(1e-4),
                  jit_compile=jit if jit == "auto" else jit == "true")
    steps = FLAGS.warmup_steps + FLAGS.steps
    batch = FLAGS.batch_size
    clock = StepClock(FLAGS.warmup_steps)
    callbacks = [clock.callback]
    if model.teacher is not None:
        callbacks.append(keras_dsmae.callbacks.TeacherEMA(total_steps=1000))
    needed = images[: steps * batch]
    if placement == "arrays":  # pre-augmented floats in memory: no input work in the step
        pipeline = placement_dataset(needed, "host", batch, normalization)
        floats = np.concatenate([np.asarray(b) for b in pipeline.take(steps)])
        model.fit(floats, batch_size=batch, epochs=1, shuffle=False, verbose=0, callbacks=callbacks)
    else:
        dataset = placement_dataset(needed, placement, batch, normalization)
        model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=callbacks)
    return FLAGS.steps * batch / (clock.end - clock.start), clock.startup_seconds(), model.jit_compile


def variant_config(preset, variant):
    from keras_dsmae import presets

    config = presets.preset_config(preset)
    if FLAGS.smoke:
        config.update(encoder_dim=32, encoder_depth=1, encoder_heads=2, decoder_dim=32,
                      decoder_depth=1, decoder_heads=2)
    if variant == "mae":
        config.update(noise_std=0.0, loss_weight=0.0)
    return config


def main(argv):
    del argv
    if FLAGS.smoke:
        for name, value in dict(examples=2048, feed_batches=10, steps=2, warmup_steps=1, rounds=1,
                                batch_size=16).items():
            setattr(FLAGS, name, value)
    unknown = sorted(set(FLAGS.placements) - set(PLACEMENTS))
    if unknown:
        raise SystemExit(f"error: --placements: unknown {unknown}; allowed: {list(PLACEMENTS)}")
    import keras
    import numpy as np

    from keras_dsmae import data
    from keras_dsmae.utils.atomic_write import write_json

    backend = keras.backend.backend()
    images = np.random.default_rng(0).integers(0, 256, (FLAGS.examples, 32, 32, 3), dtype=np.uint8)
    normalization = data.from_arrays(images[:1000], batch_size=1, training=False).normalization
    print(f"host feed, batch {FLAGS.feed_batch_size}, {FLAGS.examples} uint8 images of 32×32×3 ...")
    feed = host_feed_rows(images, normalization) if FLAGS.host_feed else {}
    rates, startups = {}, {}
    for round_index in range(FLAGS.rounds):
        for variant in FLAGS.variants:
            config = variant_config(FLAGS.preset, variant)
            for jit in FLAGS.jit:
                for placement in FLAGS.placements:
                    rate, startup, resolved = fit_rate(config, placement, images, normalization, jit.lower())
                    key = (variant, jit.lower(), placement)
                    rates.setdefault(key, []).append(rate)
                    startups.setdefault(key, []).append(startup)
                    print(f"  round {round_index + 1}: {variant}, jit_compile={jit} "
                          f"(resolved {resolved}), {placement}: {rate:.1f} img/s, "
                          f"first step after {startup:.0f} s", flush=True)
    header = (f"backend={backend} preset={FLAGS.preset}{' (smoke)' if FLAGS.smoke else ''} float32 "
              f"fit batch={FLAGS.batch_size} cores={os.cpu_count()} {platform.processor() or platform.machine()} "
              f"python={sys.version.split()[0]} keras={keras.__version__}")
    print(f"\n{header}\n")
    print("| host feed (no model) | img/s |\n|---|---|")
    for placement, rate in feed.items():
        print(f"| {placement} | {rate:,.0f} |")
    placements = [p for p in PLACEMENTS if p in FLAGS.placements]
    versus = [p for p in placements if p != "arrays"] if "arrays" in placements else []
    print("\n| variant | jit_compile | " + " | ".join(placements) + "".join(
        f" | {p} / arrays" for p in versus) + " | first step (s) |")
    print("|---|---|" + "---|" * (len(placements) + len(versus) + 1))
    medians = {key: statistics.median(values) for key, values in rates.items()}
    first_steps = {key: statistics.median(values) for key, values in startups.items()}
    jits = [j.lower() for j in FLAGS.jit]
    for variant in FLAGS.variants:
        for jit in jits:
            row = {p: medians[(variant, jit, p)] for p in placements}
            ratios = "".join(f" | {row[p] / row['arrays']:.2f}×" for p in versus)
            first = " / ".join(f"{first_steps[(variant, jit, p)]:.0f}" for p in placements)
            print(f"| {variant} | {jit} | " + " | ".join(f"{row[p]:.1f}" for p in placements)
                  + f"{ratios} | {first} |")
    if "auto" in jits and "true" in jits:
        print("\n| variant | " + " | ".join(f"{p}: jit true / auto" for p in placements) + " |")
        print("|---|" + "---|" * len(placements))
        for variant in FLAGS.variants:
            print(f"| {variant} | " + " | ".join(
                f"{medians[(variant, 'true', p)] / medians[(variant, 'auto', p)]:.2f}×" for p in placements) + " |")
    path = FLAGS.json_out or os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                          f"device_feed_{backend}{'_smoke' if FLAGS.smoke else ''}.json")
    write_json(path, {"header": header, "host_feed": feed,
                      "fit": {"/".join(key): values for key, values in rates.items()},
                      "first_step_seconds": {"/".join(key): values for key, values in startups.items()}},
               indent=2)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    app.run(main)
