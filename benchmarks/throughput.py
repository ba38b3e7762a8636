"""Training-step throughput of DSD-MAE and plain MAE on each Keras backend.

For every backend (one subprocess each, since `KERAS_BACKEND` is fixed at
import) it times `model.fit` on in-memory data at a fixed batch size and
prints, side by side:

- images/s of a DSD-MAE step and of a plain MAE step (same preset with
  `noise_std=0, loss_weight=0`, so no teacher),
- the share of a DSD-MAE step spent on the teacher's EMA update as done by
  the package (inside the compiled step), and as it would cost done from a
  Python callback after each batch (the design we rejected),
- achieved model FLOP/s against the backend's own float32 matmul FLOP/s.

    python benchmarks/throughput.py                      # all three backends
    python benchmarks/throughput.py --backends=jax --steps=10

Timings are noisy on shared machines: compare ratios within one run.
"""

import json
import os
import subprocess
import sys
import time

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_list("backends", ["tensorflow", "jax", "torch"], "Backends to measure.")
flags.DEFINE_string("preset", "dsmae_vit_tiny_cifar", "DSMAE preset to time.")
flags.DEFINE_integer("batch_size", 128, "Images per step.")
flags.DEFINE_integer("steps", 6, "Timed steps per configuration (after warm-up).")
flags.DEFINE_integer("warmup_steps", 2, "Untimed steps that compile the step.")
flags.DEFINE_string("worker", None, "Internal: measure in this process, print JSON.")


def transformer_flops(tokens, width, mlp_ratio, depth):
    """Forward FLOPs of `depth` pre-norm blocks on `tokens` tokens."""
    dense = 2 * tokens * (4 + 2 * mlp_ratio) * width * width
    attention = 4 * tokens * tokens * width
    return depth * (dense + attention)


def training_flops_per_image(model):
    """Analytic FLOPs of one training step per image (matmuls only):
    3× forward for the trained student parts, 1× for the teacher forward."""
    enc, dec = model.encoder, model.decoder
    prefix = enc.num_prefix_tokens
    n, k, d, p = enc.num_patches, model.num_visible, enc.hidden_dim, enc.patch_dim
    student = 2 * n * p * d  # patch embedding (all patches are embedded)
    student += transformer_flops(k + prefix, d, enc.mlp_ratio, enc.depth)
    student += 2 * (k + prefix) * d * dec.decoder_dim
    student += transformer_flops(n + prefix, dec.decoder_dim, dec.mlp_ratio, dec.depth)
    student += 2 * n * dec.decoder_dim * (dec.pixel_dim + dec.feature_dim)
    teacher = 0
    if model.teacher is not None:
        teacher = 2 * n * p * d + transformer_flops(n + prefix, d, enc.mlp_ratio, enc.depth)
    return model.num_views * 3 * student + teacher


def matmul_flops_per_second(size=2048, repeats=5):
    import keras
    from keras import ops

    a = keras.random.normal((size, size))
    b = keras.random.normal((size, size))
    ops.convert_to_numpy(ops.matmul(a, b))
    start = time.perf_counter()
    for _ in range(repeats):
        c = ops.matmul(a, b)
    ops.convert_to_numpy(c)
    return 2 * size**3 * repeats / (time.perf_counter() - start)


def measure(build_model, images, callbacks=()):
    """Median seconds per step of `fit` (after compiling with warm-up steps).

    The median of per-step times, taken between consecutive batch ends, is
    far less sensitive to a noisy machine than the mean over the whole fit.
    """
    import keras
    import numpy as np

    import keras_dsmae

    class StepTimer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.ends = [time.perf_counter()]

        def on_train_batch_end(self, batch, logs=None):
            self.ends.append(time.perf_counter())

    model = build_model()
    model.compile(optimizer=keras.optimizers.AdamW(1e-4))
    timer = StepTimer()
    callbacks = list(callbacks) + [timer]
    if model.teacher is not None:
        callbacks.append(keras_dsmae.callbacks.TeacherEMA(total_steps=1000))
    run = dict(batch_size=FLAGS.batch_size, epochs=1, verbose=0, shuffle=False, callbacks=callbacks)
    model.fit(images[: FLAGS.warmup_steps * FLAGS.batch_size], **run)
    model.fit(images, **run)
    return float(np.median(np.diff(timer.ends))), model


def worker():
    import keras
    import numpy as np

    import keras_dsmae

    class NoInStepEMA(keras_dsmae.DSMAE):
        """DSMAE whose compiled step skips the teacher update."""

        def update_teacher(self):
            pass

    class PythonSideEMA(keras.callbacks.Callback):
        """The rejected design: EMA from Python after every batch."""

        def on_train_batch_end(self, batch, logs=None):
            model = self.model
            m = model.ema_teacher.current_momentum()
            for teacher, student in model.ema_teacher.weight_pairs(model.encoder):
                teacher.assign(m * teacher.value + (1 - m) * student.value)

    config = keras_dsmae.presets.preset_config(FLAGS.preset)
    mae_config = {**config, "noise_std": 0.0, "loss_weight": 0.0}
    rng = np.random.default_rng(0)
    shape = (FLAGS.steps * FLAGS.batch_size, config["image_size"], config["image_size"], config["num_channels"])
    images = rng.standard_normal(shape, dtype=np.float32)

    dsmae_step, model = measure(lambda: keras_dsmae.DSMAE(**config), images)
    mae_step, _ = measure(lambda: keras_dsmae.DSMAE(**mae_config), images)
    no_ema_step, _ = measure(lambda: NoInStepEMA(**config), images)
    python_ema_step, _ = measure(lambda: NoInStepEMA(**config), images, [PythonSideEMA()])
    flops = training_flops_per_image(model) * FLAGS.batch_size
    print(json.dumps({
        "backend": keras.backend.backend(),
        "dsmae_images_per_s": FLAGS.batch_size / dsmae_step,
        "mae_images_per_s": FLAGS.batch_size / mae_step,
        "ema_in_step_share": (dsmae_step - no_ema_step) / dsmae_step,
        "ema_python_share": (python_ema_step - no_ema_step) / python_ema_step,
        "model_tflops": flops / dsmae_step / 1e12,
        "matmul_tflops": matmul_flops_per_second() / 1e12,
    }))


def main(argv):
    del argv
    if FLAGS.worker:
        worker()
        return
    rows = []
    for backend in FLAGS.backends:
        print(f"measuring {backend} ...", flush=True)
        command = [sys.executable, __file__, f"--worker={backend}"] + [
            f"--{name}={FLAGS[name].value}"
            for name in ("preset", "batch_size", "steps", "warmup_steps")
        ]
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
        result = subprocess.run(command, env=env, capture_output=True, text=True)
        lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
        if result.returncode or not lines:
            print(result.stderr[-3000:])
            raise SystemExit(f"{backend} worker failed")
        rows.append(json.loads(lines[-1]))
    print(
        f"\npreset={FLAGS.preset} batch={FLAGS.batch_size} steps={FLAGS.steps} "
        f"(after {FLAGS.warmup_steps} warm-up)\n"
    )
    header = (
        f"{'backend':<11}{'DSD-MAE img/s':>14}{'MAE img/s':>11}{'DSD/MAE':>9}"
        f"{'EMA in step':>13}{'EMA python':>12}{'model TF/s':>12}{'matmul TF/s':>13}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['backend']:<11}{r['dsmae_images_per_s']:>14.1f}{r['mae_images_per_s']:>11.1f}"
            f"{r['dsmae_images_per_s'] / r['mae_images_per_s']:>9.2f}"
            f"{100 * r['ema_in_step_share']:>12.1f}%{100 * r['ema_python_share']:>11.1f}%"
            f"{r['model_tflops']:>12.3f}{r['matmul_tflops']:>13.3f}"
        )


if __name__ == "__main__":
    app.run(main)
