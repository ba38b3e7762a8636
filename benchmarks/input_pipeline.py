"""Does the input pipeline keep up with the model?

Prints, for each data set's shape, the images/s of the pretraining pipeline
alone (decode-free cached source → shuffle → random resized crop + flip →
normalise → batch, as `keras_dsmae.data.pretraining_dataset` builds it) and
the images/s of a DSD-MAE training step of the matching preset, side by side
in one run. Generated images stand in for the TFDS files (no network here);
after the first epoch TFDS data is served from the same in-memory cache.

    python benchmarks/input_pipeline.py                    # KERAS_BACKEND, default torch
    python benchmarks/input_pipeline.py --datasets=cifar100 --batches=40
"""

import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "torch")

from absl import app, flags  # noqa: E402

flags.DEFINE_list("datasets", ["cifar100", "stl10"], "Data set shapes to measure.")
flags.DEFINE_integer("batch_size", 256, "Images per batch.")
flags.DEFINE_integer("batches", 30, "Pipeline batches timed (after 3 warm-up batches).")
flags.DEFINE_integer("train_steps", 4, "Training steps timed (after 2 warm-up steps).")
flags.DEFINE_integer("examples", 20000, "Generated images in the source.")
FLAGS = flags.FLAGS


def pipeline_images_per_second(dataset):
    from keras_dsmae import data

    stream = iter(data.pretraining_dataset(dataset, FLAGS.batch_size, seed=0, use_synthetic_data=True,
                                           synthetic_examples=FLAGS.examples).repeat())
    for _ in range(3):
        next(stream)
    start = time.perf_counter()
    for _ in range(FLAGS.batches):
        next(stream)
    return FLAGS.batches * FLAGS.batch_size / (time.perf_counter() - start)


def training_images_per_second(dataset):
    import keras
    import numpy as np

    import keras_dsmae
    from keras_dsmae import data

    spec = data.get_spec(dataset)
    model = keras_dsmae.DSMAE.from_preset(spec.default_preset)
    model.compile(optimizer=keras.optimizers.AdamW(1e-4))
    shape = (FLAGS.batch_size * FLAGS.train_steps, *spec.image_size, spec.num_channels)
    images = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
    run = dict(batch_size=FLAGS.batch_size, verbose=0, shuffle=False,
               callbacks=[keras_dsmae.callbacks.TeacherEMA(total_steps=100)])
    model.fit(images[: 2 * FLAGS.batch_size], **run)
    start = time.perf_counter()
    model.fit(images, **run)
    return len(images) / (time.perf_counter() - start)


def main(argv):
    del argv
    import keras

    rows = []
    for dataset in FLAGS.datasets:
        print(f"measuring {dataset} ...", flush=True)
        rows.append((dataset, pipeline_images_per_second(dataset), training_images_per_second(dataset)))
    print(f"\nbackend={keras.backend.backend()} batch={FLAGS.batch_size} cores={os.cpu_count()}\n")
    print(f"{'data set':<10}{'pipeline img/s':>16}{'train step img/s':>18}{'headroom':>10}")
    for dataset, pipeline, train in rows:
        print(f"{dataset:<10}{pipeline:>16.0f}{train:>18.1f}{pipeline / train:>9.1f}×")


if __name__ == "__main__":
    app.run(main)
