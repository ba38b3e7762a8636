"""Pretraining speed of keras_dsmae against lightly's PyTorch MAE, side by side.

One worker process per side and precision (lightly + timm on PyTorch, and
keras_dsmae on each Keras backend) builds the same model: a ViT encoder and
an MAE decoder of the preset's size, in two variants,

- MAE: pixel reconstruction only (keras_dsmae: `noise_std=0, loss_weight=0`),
- DSD-MAE: + Gaussian noise on the student's input, an EMA teacher encoder
  on the clean image and a cosine feature loss on the masked tokens
  (keras_dsmae: the preset as it is; lightly: a teacher copy of its
  backbone moved by `lightly.models.utils.update_momentum`, a linear
  feature head on its decoder).

All workers start and compile first; then the driver asks each in turn, for
`--rounds` rounds, to time `--steps` training steps of each variant, so
every side sees the same machine load. It prints images/s (median step),
the ratio to lightly, the DSD-MAE/MAE ratio, model FLOP/s (analytic matmul
FLOPs, `keras_dsmae.models.flops`) and their share of the same framework's
measured matmul FLOP/s at the same precision (MFU against the machine).

    pip install -e ".[bench]"             # lightly, timm, torch/torchvision that work together
    python benchmarks/peer_throughput.py
    python benchmarks/peer_throughput.py --precisions=float32,bfloat16 --backends=torch --rounds=5
    python benchmarks/peer_throughput.py --peer_compile --compiled_backends=torch,tensorflow \
        --peak_tflops=989 --json_out=peer.json       # on a GPU (benchmarks/gpu_check.py does this)

Without lightly installed the peer row is left out (with a note). On a
machine with a CUDA GPU both sides train on it (lightly: `.cuda()` and
`torch.autocast("cuda")`); `--peer_compile` adds lightly under
`torch.compile`, `--compiled_backends` keras_dsmae workers compiled with
`jit_compile=True` (XLA on TensorFlow, `torch.compile` on torch; JAX always
compiles), and `--peak_tflops` an MFU column against that peak.
"""

import json
import os
import statistics
import subprocess
import sys
import time

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_list("backends", ["torch", "tensorflow", "jax"], "Keras backends to measure.")
flags.DEFINE_bool("peer", True, "Also measure lightly + timm (PyTorch).")
flags.DEFINE_list("precisions", ["float32"], "float32 and/or bfloat16 (keras: mixed_bfloat16; "
                  "lightly: torch.autocast bfloat16).")
flags.DEFINE_string("preset", "dsmae_vit_tiny_cifar", "keras_dsmae preset giving both sides' sizes.")
flags.DEFINE_integer("batch_size", 128, "Images per step.")
flags.DEFINE_integer("steps", 6, "Timed steps per variant per round.")
flags.DEFINE_integer("rounds", 3, "Interleaved rounds over all workers.")
flags.DEFINE_integer("warmup_steps", 3, "Untimed steps per variant before timing.")
flags.DEFINE_string("json_out", None, "Also write the figures as JSON to this file.")
flags.DEFINE_bool("peer_compile", False, "Also measure lightly under torch.compile.")
flags.DEFINE_list("compiled_backends", [], "Backends also measured with jit_compile=True.")
flags.DEFINE_float("peak_tflops", None, "The device's peak TFLOP/s at the precision, for an MFU column.")
flags.DEFINE_integer("matmul_size", 2048, "Side of the square matmul that measures the machine's FLOP/s.")
flags.DEFINE_string("overrides", "{}", "JSON of DSMAE arguments that change the preset (both sides).")
flags.DEFINE_string("worker", None, "Internal: 'lightly' or 'keras' (serve timing requests).")
flags.DEFINE_string("precision", "float32", "Internal: the worker's precision.")
flags.DEFINE_bool("compiled", False, "Internal: the worker compiles its step.")

VARIANTS = ("mae", "dsmae")


def variant_config(config, variant):
    """The keras_dsmae constructor arguments of `variant`: the preset as it
    is for DSD-MAE (with `--overrides`, e.g. `{"masks_per_image": 4}`); no
    noise, no teacher and one mask per image for MAE, so that "DSD/MAE
    step" is always against plain MAE on the same batch of images."""
    if variant == "dsmae":
        return config
    return {**config, "noise_std": 0.0, "loss_weight": 0.0, "masks_per_image": 1}


# ----------------------------------------------------------------- workers

def accelerator_name():
    """The GPU's name (`nvidia-smi`), or None on a machine without one. Not
    asked of PyTorch: the driver has TensorFlow loaded, and torch's CUDA
    import after it is the order that is known to crash (see `main`)."""
    try:
        names = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                               capture_output=True, text=True, timeout=30).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return None
    names = [name.strip() for name in names if name.strip()]
    return names[0] if names else None


def keras_worker(config, precision):
    """Serve timing requests for keras_dsmae on this process's backend."""
    import keras
    import numpy as np

    import keras_dsmae
    from keras_dsmae.models.flops import training_flops_per_image

    keras.config.set_dtype_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")
    rng = np.random.default_rng(0)
    image_shape = (config["image_size"], config["image_size"], config["num_channels"])

    class StepTimer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.ends = [time.perf_counter()]

        def on_train_batch_end(self, batch, logs=None):
            self.ends.append(time.perf_counter())

    models = {}
    for variant in VARIANTS:
        model = keras_dsmae.DSMAE(**variant_config(config, variant))
        model.compile(optimizer=keras.optimizers.AdamW(1.5e-4, weight_decay=0.05),
                      jit_compile=True if FLAGS.compiled else "auto")
        models[variant] = model

    def run(variant, steps):
        model, timer = models[variant], StepTimer()
        callbacks = [timer]
        if model.teacher is not None:
            callbacks.append(keras_dsmae.callbacks.TeacherEMA(total_steps=100_000, log_momentum=False))
        images = rng.standard_normal((steps * FLAGS.batch_size, *image_shape), dtype=np.float32)
        model.fit(images, batch_size=FLAGS.batch_size, epochs=1, verbose=0, shuffle=False,
                  callbacks=callbacks)
        return list(np.diff(timer.ends))

    def matmul_flops(size=None, repeats=5):
        size = size or FLAGS.matmul_size
        dtype = "bfloat16" if precision == "bfloat16" else "float32"
        a = keras.random.normal((size, size), dtype=dtype)
        b = keras.random.normal((size, size), dtype=dtype)
        keras.ops.convert_to_numpy(keras.ops.matmul(a, b))
        start = time.perf_counter()
        for _ in range(repeats):
            c = keras.ops.matmul(a, b)
        keras.ops.convert_to_numpy(c)
        return 2 * size**3 * repeats / (time.perf_counter() - start)

    flops = {variant: training_flops_per_image(models[variant]) for variant in VARIANTS}
    compiled = " (jit_compile=True)" if FLAGS.compiled else ""
    serve(run, matmul_flops, flops, f"keras_dsmae {keras.backend.backend()}{compiled}")


def lightly_worker(config, precision):
    """Serve timing requests for lightly's MAE (timm ViT) on PyTorch, at
    the sizes of `config` (a keras_dsmae preset)."""
    import copy
    import warnings

    import torch
    from lightly.models import utils
    from lightly.models.modules import MAEDecoderTIMM, MaskedVisionTransformerTIMM
    from timm.models.vision_transformer import VisionTransformer

    import keras_dsmae
    from keras_dsmae.models.flops import training_flops_per_image

    warnings.filterwarnings("ignore", message=".*MAEDecoderTIMM.*")
    torch.manual_seed(0)
    patch, size = config["patch_size"], config["image_size"]
    autocast = precision == "bfloat16"
    device = "cuda" if torch.cuda.is_available() else "cpu"

    class LightlyMAE(torch.nn.Module):
        """lightly's MAE example, optionally with an EMA teacher + feature head."""

        def __init__(self, with_teacher):
            super().__init__()
            vit = VisionTransformer(
                img_size=size, patch_size=patch, in_chans=config["num_channels"],
                embed_dim=config["encoder_dim"], depth=config["encoder_depth"],
                num_heads=config["encoder_heads"], mlp_ratio=config["mlp_ratio"],
                num_classes=0, class_token=True,
            )
            self.backbone = MaskedVisionTransformerTIMM(vit=vit)
            self.decoder = MAEDecoderTIMM(
                num_patches=vit.patch_embed.num_patches, patch_size=patch,
                in_chans=config["num_channels"], embed_dim=config["encoder_dim"],
                decoder_embed_dim=config["decoder_dim"], decoder_depth=config["decoder_depth"],
                decoder_num_heads=config["decoder_heads"], mlp_ratio=config["mlp_ratio"],
            )
            self.sequence_length = self.backbone.sequence_length
            self.teacher = None
            if with_teacher:
                self.teacher = copy.deepcopy(self.backbone).requires_grad_(False)
                self.feature_head = torch.nn.Linear(config["decoder_dim"], config["encoder_dim"])

        def loss(self, images):
            batch = images.shape[0]
            idx_keep, idx_mask = utils.random_token_mask(
                size=(batch, self.sequence_length), mask_ratio=config["mask_ratio"])
            student_input = images
            if self.teacher is not None:
                student_input = images + config["noise_std"] * torch.randn_like(images)
            encoded = self.backbone.encode(images=student_input, idx_keep=idx_keep)
            tokens = utils.repeat_token(self.decoder.mask_token, (batch, self.sequence_length))
            tokens = utils.set_at_index(tokens, idx_keep, self.decoder.embed(encoded).type_as(tokens))
            decoded = utils.get_at_index(self.decoder.decode(tokens), idx_mask)
            target = utils.get_at_index(utils.patchify(images, patch), idx_mask - 1)
            mean, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)
            target = (target - mean) / (var + 1e-6) ** 0.5
            loss = torch.nn.functional.mse_loss(self.decoder.predict(decoded).float(), target)
            if self.teacher is not None:
                with torch.no_grad():
                    teacher_tokens = utils.get_at_index(self.teacher.encode(images=images), idx_mask)
                    teacher_tokens = torch.nn.functional.layer_norm(
                        teacher_tokens.float(), teacher_tokens.shape[-1:])
                prediction = self.feature_head(decoded).float()
                cosine = torch.nn.functional.cosine_similarity(prediction, teacher_tokens, dim=-1)
                loss = loss + (1.0 - cosine).mean()
            return loss

    models = {variant: LightlyMAE(variant == "dsmae").to(device) for variant in VARIANTS}
    losses = {variant: torch.compile(model.loss) if FLAGS.compiled else model.loss
              for variant, model in models.items()}
    optimizers = {
        variant: torch.optim.AdamW(
            [p for p in model.parameters() if p.requires_grad], lr=1.5e-4, weight_decay=0.05)
        for variant, model in models.items()
    }

    def run(variant, steps):
        model, optimizer = models[variant], optimizers[variant]
        times = []
        for _ in range(steps):
            images = torch.randn(FLAGS.batch_size, config["num_channels"], size, size, device=device)
            start = time.perf_counter()
            with torch.autocast(device, dtype=torch.bfloat16, enabled=autocast):
                loss = losses[variant](images)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            if model.teacher is not None:
                utils.update_momentum(model.backbone, model.teacher, m=0.996)
            loss.item()
            times.append(time.perf_counter() - start)
        return times

    def matmul_flops(size=None, repeats=5):
        size = size or FLAGS.matmul_size
        dtype = torch.bfloat16 if autocast else torch.float32
        a = torch.randn(size, size, dtype=dtype, device=device)
        b = torch.randn(size, size, dtype=dtype, device=device)
        (a @ b).sum().item()
        start = time.perf_counter()
        for _ in range(repeats):
            c = a @ b
        c.sum().item()  # waits for the device
        return 2 * size**3 * repeats / (time.perf_counter() - start)

    # The same architecture, counted by the same formula as keras_dsmae's.
    import keras

    keras.config.set_dtype_policy("float32")
    flops = {variant: training_flops_per_image(keras_dsmae.DSMAE(**variant_config(config, variant)))
             for variant in VARIANTS}
    serve(run, matmul_flops, flops, "lightly + timm (torch" + (", torch.compile)" if FLAGS.compiled else ")"))


def serve(run, matmul_flops, flops, label):
    """Warm up, say `ready`, then answer one JSON request per stdin line:
    `{"variant": v, "steps": n}` → `{"times": [...]}`; `{"matmul": true}` →
    `{"matmul_flops": f}`; end of input stops."""
    for variant in VARIANTS:
        run(variant, FLAGS.warmup_steps)
    reply({"ready": True, "label": label, "flops_per_image": flops})
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("matmul"):
            reply({"matmul_flops": matmul_flops()})
        else:
            reply({"times": [float(t) for t in run(request["variant"], request["steps"])]})


def reply(message):
    sys.stdout.write("@@" + json.dumps(message) + "\n")
    sys.stdout.flush()


# ------------------------------------------------------------------ driver

class Worker:
    """A worker subprocess and its request/answer pipe."""

    def __init__(self, side, backend, precision, compiled=False):
        self.side, self.backend, self.precision = side, backend, precision
        command = [sys.executable, os.path.abspath(__file__), f"--worker={side}",
                   f"--precision={precision}", f"--compiled={compiled}"] + [
            f"--{name}={FLAGS[name].value}"
            for name in ("preset", "batch_size", "warmup_steps", "overrides", "matmul_size")]
        # Several workers share one GPU: none may take all of its memory up front.
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
               "XLA_PYTHON_CLIENT_PREALLOCATE": "false", "TF_FORCE_GPU_ALLOW_GROWTH": "true"}
        self.process = subprocess.Popen(command, env=env, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, bufsize=1)
        self.times = {variant: [] for variant in VARIANTS}

    def receive(self):
        for line in self.process.stdout:
            if line.startswith("@@"):
                return json.loads(line[2:])
        raise SystemExit(f"worker {self.side}/{self.backend}/{self.precision} died "
                         f"(exit {self.process.wait()}); see its output above")

    def ask(self, request):
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self.receive()

    def close(self):
        self.process.stdin.close()
        self.process.wait()


def peer_available():
    """Whether lightly and timm are installed (looked up, not imported: the
    driver never imports them, see `main`)."""
    from importlib import util

    missing = [name for name in ("lightly", "timm") if util.find_spec(name) is None]
    if missing:
        print(f"note: {', '.join(missing)} not installed; install the bench extra "
              "(pip install -e '.[bench]') for the peer row.")
    return not missing


def main(argv):
    del argv
    if FLAGS.worker == "lightly":
        # torchvision (through lightly) must load before TensorFlow, which
        # keras_dsmae imports: the other order segfaults in triton's import.
        import lightly.models.modules  # noqa: F401
    import keras_dsmae

    config = {**keras_dsmae.presets.preset_config(FLAGS.preset), **json.loads(FLAGS.overrides)}
    if FLAGS.worker:
        (lightly_worker if FLAGS.worker == "lightly" else keras_worker)(config, FLAGS.precision)
        return
    for precision in FLAGS.precisions:
        if precision not in ("float32", "bfloat16"):
            raise SystemExit(f"error: --precisions: {precision!r} is not one of float32, bfloat16")
    peer = FLAGS.peer and peer_available()
    sides = ([("lightly", "torch", False)] if peer else []) + (
        [("lightly", "torch", True)] if peer and FLAGS.peer_compile else []) + [
        ("keras", backend, False) for backend in FLAGS.backends] + [
        ("keras", backend, True) for backend in FLAGS.compiled_backends if backend != "jax"]
    started = time.time()
    workers = [Worker(side, backend, precision, compiled)
               for precision in FLAGS.precisions for side, backend, compiled in sides]
    for worker in workers:  # all compile before any timing starts
        worker.info = worker.receive()
        print(f"ready: {worker.info['label']} ({worker.precision})", flush=True)
    for round_index in range(FLAGS.rounds):
        for worker in workers:
            for variant in VARIANTS:
                answer = worker.ask({"variant": variant, "steps": FLAGS.steps})
                worker.times[variant] += answer["times"]
        print(f"round {round_index + 1}/{FLAGS.rounds} done", flush=True)
    for worker in workers:
        worker.matmul = worker.ask({"matmul": True})["matmul_flops"]
        worker.close()
    report(workers, config, time.time() - started)


def report(workers, config, seconds):
    from importlib import metadata

    rows = []
    device = accelerator_name() or f"{os.cpu_count()} CPU cores"
    for worker in workers:
        row = {"side": worker.info["label"], "precision": worker.precision, "device": device,
               "batch_size": FLAGS.batch_size, "preset": FLAGS.preset,
               "matmul_tflops": worker.matmul / 1e12}
        for variant in VARIANTS:
            step = statistics.median(worker.times[variant])
            row[f"{variant}_images_per_s"] = FLAGS.batch_size / step
            row[f"{variant}_tflops"] = worker.info["flops_per_image"][variant] * FLAGS.batch_size / step / 1e12
        if FLAGS.peak_tflops:
            row["mfu"] = {v: row[f"{v}_tflops"] / FLAGS.peak_tflops for v in VARIANTS}
        rows.append(row)
    print(f"\npreset={FLAGS.preset} {FLAGS.overrides if FLAGS.overrides != '{}' else ''} "
          f"batch={FLAGS.batch_size} median of {FLAGS.rounds}×{FLAGS.steps} "
          f"steps per variant, interleaved; {device}; torch {metadata.version('torch')}; "
          f"{seconds / 60:.1f} min")
    for precision in FLAGS.precisions:
        group = [r for r in rows if r["precision"] == precision]
        peer = next((r for r in group if r["side"].startswith("lightly")), None)
        print(f"\n{precision}\n")
        mfu = f" | MFU of {FLAGS.peak_tflops:g} TFLOP/s (MAE / DSD-MAE)" if FLAGS.peak_tflops else ""
        print("| | MAE img/s | × lightly | DSD-MAE img/s | × lightly | DSD/MAE step | "
              f"DSD-MAE TFLOP/s | matmul TFLOP/s | share of matmul{mfu} |")
        print("|---|---|---|---|---|---|---|---|---|" + ("---|" if mfu else ""))
        for r in group:
            ratios = [f"{r[f'{v}_images_per_s'] / peer[f'{v}_images_per_s']:.2f}×" if peer else "—"
                      for v in VARIANTS]
            print(f"| {r['side']} | {r['mae_images_per_s']:.0f} | {ratios[0]} | "
                  f"{r['dsmae_images_per_s']:.0f} | {ratios[1]} | "
                  f"{r['mae_images_per_s'] / r['dsmae_images_per_s']:.2f} | {r['dsmae_tflops']:.3f} | "
                  f"{r['matmul_tflops']:.3f} | {100 * r['dsmae_tflops'] / r['matmul_tflops']:.0f} % |"
                  + (f" {100 * r['mfu']['mae']:.1f} % / {100 * r['mfu']['dsmae']:.1f} % |" if mfu else ""))
    if FLAGS.json_out:
        with open(FLAGS.json_out, "w") as handle:
            json.dump(rows, handle, indent=1)


if __name__ == "__main__":
    app.run(main)
