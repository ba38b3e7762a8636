"""Does the input pipeline keep up with the model?

Prints, side by side in one run, the images/s of the pretraining input
pipeline alone and of a DSD-MAE training step of the matching preset on this
machine:

- `folder:` rows: a folder of real-size JPEG files (generated once: half
  256x256, half 500x375, with a few corrupt files), streamed by
  `from_image_folder` (decode, random resized crop from the original,
  flip, normalise, batch) at 224 and 96 pixels with the default
  parallelism. Also the time to list the files and to sample the
  normalisation statistics (the only work before training starts).
- catalog rows (`--datasets`): the in-memory TFDS pipelines of CIFAR-100
  and STL-10 (generated stand-ins; after the first epoch TFDS data is
  served from the same cache).

    python benchmarks/input_pipeline.py                    # KERAS_BACKEND, default torch
    python benchmarks/input_pipeline.py --files=2000 --image_sizes=96 --datasets=
"""

import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "torch")

from absl import app, flags  # noqa: E402

flags.DEFINE_string("folder", "/tmp/keras_dsmae_input_benchmark", "Folder of generated JPEGs (made once).")
flags.DEFINE_integer("files", 20000, "JPEG files to generate (half 256x256, half 500x375).")
flags.DEFINE_list("image_sizes", ["224", "96"], "Model image sizes for the folder rows.")
flags.DEFINE_list("datasets", ["cifar100", "stl10"], "Catalog data sets (in-memory pipelines).")
flags.DEFINE_integer("batch_size", 256, "Images per pipeline batch.")
flags.DEFINE_integer("batches", 20, "Pipeline batches timed (after 3 warm-up batches).")
flags.DEFINE_integer("train_batch_size", 32, "Images per timed training step.")
flags.DEFINE_integer("train_steps", 3, "Training steps timed (after 2 warm-up steps).")
FLAGS = flags.FLAGS
PRESETS_BY_SIZE = {224: "dsmae_vit_small_224", 96: "dsmae_vit_tiny_stl10", 32: "dsmae_vit_tiny_cifar"}


def generate_folder(folder, count):
    """`count` JPEGs of smooth random colour plus noise (photo-like file
    sizes), in 10 sub-folders, and 3 corrupt files; skipped when done."""
    import numpy as np
    import tensorflow as tf

    marker = os.path.join(folder, f".complete_{count}")
    if os.path.exists(marker):
        return
    for index in range(10):
        os.makedirs(os.path.join(folder, f"class_{index}"), exist_ok=True)
    print(f"generating {count} JPEGs in {folder} ...", flush=True)

    def write(index):
        seed = tf.stack([index, 7])
        height, width = (256, 256) if index % 2 == 0 else (375, 500)
        low = tf.random.stateless_uniform((1, 6, 8, 3), seed, 0, 255)
        image = tf.image.resize(low, (height, width), method="bicubic")[0]
        image += tf.random.stateless_normal((height, width, 3), seed + 1, stddev=12)
        encoded = tf.io.encode_jpeg(tf.cast(tf.clip_by_value(image, 0, 255), tf.uint8), quality=90)
        path = tf.strings.join([folder, "/class_", tf.strings.as_string(index % 10), "/",
                                tf.strings.as_string(index), ".jpg"])
        tf.io.write_file(path, encoded)
        return index

    for _ in tf.data.Dataset.range(count).map(write, num_parallel_calls=tf.data.AUTOTUNE):
        pass
    for index in range(3):
        with open(os.path.join(folder, f"class_{index}", f"corrupt_{index}.jpg"), "wb") as file:
            file.write(b"\xff\xd8\xff\xe0 not really a jpeg")
    open(marker, "w").close()


def images_per_second(dataset):
    stream = iter(dataset.repeat())
    for _ in range(3):
        next(stream)
    start = time.perf_counter()
    for _ in range(FLAGS.batches):
        next(stream)
    return FLAGS.batches * FLAGS.batch_size / (time.perf_counter() - start)


def folder_row(image_size):
    import warnings

    from keras_dsmae import data

    start = time.perf_counter()
    paths, _, _ = data.list_image_files(FLAGS.folder)
    listing = time.perf_counter() - start
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the corrupt files
        dataset = data.from_image_folder(FLAGS.folder, image_size=image_size, batch_size=FLAGS.batch_size,
                                         seed=0)
    preparation = time.perf_counter() - start  # listing again + the statistics sample
    return dict(source=f"folder, {len(paths)} JPEGs", size=image_size, pipeline=images_per_second(dataset),
                listing=listing, preparation=preparation)


def catalog_row(dataset):
    from keras_dsmae import data

    spec = data.get_spec(dataset)
    pipeline = data.pretraining_dataset(dataset, FLAGS.batch_size, seed=0, use_synthetic_data=True,
                                        synthetic_examples=20000)
    return dict(source=f"{dataset} (in memory)", size=spec.image_size[0], pipeline=images_per_second(pipeline))


def training_images_per_second(image_size):
    import keras
    import numpy as np

    import keras_dsmae

    model = keras_dsmae.DSMAE.from_preset(PRESETS_BY_SIZE[image_size])
    model.compile(optimizer=keras.optimizers.AdamW(1e-4))
    batch, steps = FLAGS.train_batch_size, FLAGS.train_steps
    images = np.random.default_rng(0).standard_normal((batch * steps, image_size, image_size, 3), "float32")
    run = dict(batch_size=batch, verbose=0, shuffle=False,
               callbacks=[keras_dsmae.callbacks.TeacherEMA(total_steps=100)])
    model.fit(images[: 2 * batch], **run)
    start = time.perf_counter()
    model.fit(images, **run)
    return len(images) / (time.perf_counter() - start)


def main(argv):
    del argv
    import keras

    rows = []
    if FLAGS.image_sizes:
        generate_folder(FLAGS.folder, FLAGS.files)
    for size in map(int, FLAGS.image_sizes):
        print(f"measuring the folder pipeline at {size} ...", flush=True)
        rows.append(folder_row(size))
    for dataset in FLAGS.datasets:
        print(f"measuring {dataset} ...", flush=True)
        rows.append(catalog_row(dataset))
    steps = {}
    for row in rows:
        if row["size"] not in steps:
            print(f"measuring training steps of {PRESETS_BY_SIZE[row['size']]} ...", flush=True)
            steps[row["size"]] = training_images_per_second(row["size"])
        row["train"] = steps[row["size"]]

    print(f"\nbackend={keras.backend.backend()} pipeline batch={FLAGS.batch_size} "
          f"train batch={FLAGS.train_batch_size} cores={os.cpu_count()} python={sys.version.split()[0]}\n")
    print("| source | size | preset | pipeline img/s | train step img/s | headroom | before training |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        before = (f"list {row['listing']:.1f} s, list + stats sample {row['preparation']:.1f} s"
                  if "listing" in row else "-")
        print(f"| {row['source']} | {row['size']} | {PRESETS_BY_SIZE[row['size']]} | {row['pipeline']:.0f} | "
              f"{row['train']:.1f} | {row['pipeline'] / row['train']:.0f}× | {before} |")


if __name__ == "__main__":
    app.run(main)
