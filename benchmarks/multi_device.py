"""Data-parallel scaling: DSD-MAE training images/s on 1 and N devices.

For each backend with a multi-device path (TensorFlow: MirroredStrategy,
JAX: keras.distribution.DataParallel) it times `fit` at the same global
batch on one device and on `--devices` devices, each in its own process,
and prints images/s side by side with the ratio.

    python benchmarks/multi_device.py                       # CPU: logical/host devices
    python benchmarks/multi_device.py --devices=4 --batch_size=256 --preset=dsmae_vit_tiny_cifar

Without accelerators the "devices" are logical CPU devices that share the
same cores: the ratio then shows the cost of splitting a batch and
synchronising gradients, not a speed-up. On a machine with several GPUs the
same command uses them (`--devices` = how many).
"""

import json
import os
import subprocess
import sys
import time

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_list("backends", ["tensorflow", "jax"], "Backends to measure (torch has no path).")
flags.DEFINE_integer("devices", 2, "Devices of the data-parallel run.")
flags.DEFINE_string("preset", "dsmae_vit_tiny_cifar", "DSMAE preset.")
flags.DEFINE_integer("encoder_depth", 4, "Encoder blocks (the preset's 12 is slow on a CPU).")
flags.DEFINE_integer("batch_size", 64, "Global images per step.")
flags.DEFINE_integer("steps", 6, "Timed steps (after 2 warm-up steps).")
flags.DEFINE_string("worker", None, "Internal: BACKEND:DEVICES, measure in this process.")

DISTRIBUTION = {"tensorflow": "mirrored", "jax": "data_parallel"}


def _configure_devices(backend, devices):
    """Before Keras starts: make `devices` CPU devices when there are no GPUs."""
    if backend == "jax":
        os.environ.setdefault("XLA_FLAGS", f"--xla_force_host_platform_device_count={devices}")
        return
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * devices)


def measure(backend, devices):
    """Median images/s of `fit` steps on `devices` devices."""
    _configure_devices(backend, devices)
    import keras
    import numpy as np

    import keras_dsmae
    from keras_dsmae.training.distribution import resolve_distribution

    class StepTimer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.ends = [time.perf_counter()]

        def on_train_batch_end(self, batch, logs=None):
            self.ends.append(time.perf_counter())

    distributed = resolve_distribution(DISTRIBUTION[backend] if devices > 1 else "none", FLAGS.batch_size)
    with distributed.scope():
        model = keras_dsmae.DSMAE.from_preset(FLAGS.preset, encoder_depth=FLAGS.encoder_depth, seed=0)
        model.compile(optimizer=keras.optimizers.AdamW(1e-4))
    shape = (FLAGS.batch_size * FLAGS.steps, *model.encoder.image_size, model.encoder.num_channels)
    images = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
    timer = StepTimer()
    run = dict(batch_size=FLAGS.batch_size, epochs=1, verbose=0, shuffle=False,
               callbacks=[timer, keras_dsmae.callbacks.TeacherEMA(total_steps=1000)])
    with distributed.fit_scope():
        model.fit(images[: 2 * FLAGS.batch_size], **run)  # compile
        model.fit(images, **run)
    step = float(np.median(np.diff(timer.ends)))
    return {"devices": distributed.num_devices, "images_per_second": FLAGS.batch_size / step}


def _run_worker(backend, devices):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, __file__, f"--worker={backend}:{devices}", *sys.argv[1:]]
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"{backend} on {devices} device(s) failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv):
    del argv
    if FLAGS.worker:
        backend, devices = FLAGS.worker.split(":")
        print(json.dumps(measure(backend, int(devices))))
        return
    print(f"{FLAGS.preset} (encoder_depth={FLAGS.encoder_depth}), global batch {FLAGS.batch_size}, "
          f"median of {FLAGS.steps} steps\n")
    print(f"| backend | 1 device img/s | {FLAGS.devices} devices img/s | ratio |")
    print("|---|---|---|---|")
    for backend in FLAGS.backends:
        one = _run_worker(backend, 1)
        many = _run_worker(backend, FLAGS.devices)
        ratio = many["images_per_second"] / one["images_per_second"]
        print(f"| {backend} ({DISTRIBUTION[backend]}) | {one['images_per_second']:.0f} | "
              f"{many['images_per_second']:.0f} | {ratio:.2f} |", flush=True)


if __name__ == "__main__":
    app.run(main)
