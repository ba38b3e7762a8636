"""The one prepared command for a GPU machine: fills the GPU tables of the
README in one go (under 8 minutes on one H200 by design; each stage has its
own time limit, and a stage that fails or runs out is recorded and the
others still run).

    python benchmarks/gpu_check.py            # on the GPU machine
    python benchmarks/gpu_check.py --smoke    # tiny models, a few steps, on a CPU (CI runs this)

Stages (each in its own processes, so that the backends do not share one):

1. `peer`: `peer_throughput.py` for `dsmae_vit_tiny_cifar`: lightly eager
   and under `torch.compile`, keras_dsmae on each backend (and compiled with
   `jit_compile=True` on torch; on a GPU Keras' "auto" already compiles with
   XLA on TensorFlow, and JAX always does), float32 and bfloat16, MAE
   and DSD-MAE, batch 256; bfloat16 also at batch 1024. MFU against the
   device's bf16 peak (`--peak_tflops`, default from the device's name).
2. `feed`: `device_feed.py` on each backend: the fit rate of the preset
   through the host pipeline, device augmentation, resident data and
   in-memory arrays (the upper bound), batch 256.
3. `vit_small_224`: `peer_throughput.py` for `dsmae_vit_small_224`,
   bfloat16, batch 128.
4. `float16`: about 300 steps of `mixed_float16` training (loss scaling) on
   each backend: the losses stay finite, and the loss scale is reported.

Writes `benchmarks/results/gpu_check_<device>.json` and `.md` (the
markdown tables, with the device, date and command), and the stages' logs
under `benchmarks/results/gpu_check_logs/`. Exits 1 when a stage failed.
"""

import datetime
import json
import math
import os
import re
import subprocess
import sys
import time

from absl import app, flags

HERE = os.path.dirname(os.path.abspath(__file__))
BACKENDS = ("torch", "jax", "tensorflow")
BF16_PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0}
TINY = {"encoder_dim": 32, "encoder_depth": 1, "encoder_heads": 2, "decoder_dim": 32,
        "decoder_depth": 1, "decoder_heads": 2}

flags.DEFINE_bool("smoke", False, "Tiny models and a few steps, on any machine: checks the script.")
flags.DEFINE_list("backends", list(BACKENDS), "Keras backends to measure.")
flags.DEFINE_list("stages", ["peer", "feed", "vit_small_224", "float16"], "Stages to run.")
flags.DEFINE_float("peak_tflops", None, "The device's bf16 peak; default: from its name.")
flags.DEFINE_integer("float16_steps", 300, "Steps of the mixed_float16 run.")
flags.DEFINE_string("output_dir", os.path.join(HERE, "results"), "Where the JSON and markdown go.")
flags.DEFINE_string("worker", None, "Internal: run one stage's worker (float16) in this process.")
FLAGS = flags.FLAGS


def device_name():
    """The GPU's name (nvidia-smi), or the CPU's core count."""
    try:
        names = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                               capture_output=True, text=True, timeout=30).stdout.split("\n")
        names = [n.strip() for n in names if n.strip()]
    except (OSError, subprocess.SubprocessError):
        names = []
    if names:
        return f"{len(names)}× {names[0]}" if len(names) > 1 else names[0]
    return f"{os.cpu_count()} CPU cores (no GPU)"


def peak_for(device):
    for key, peak in BF16_PEAK_TFLOPS.items():
        if re.search(rf"\b{key}\b", device):
            return peak
    return None


def run_stage(name, command, limit, log_dir, env=None):
    """Run `command`; `(ok, seconds, output)`, its output also in the log."""
    start = time.time()
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
                   "TF_FORCE_GPU_ALLOW_GROWTH": "true", **(env or {})}
    print(f"[{name}] {' '.join(command[1:])}", flush=True)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=limit, env=environment)
        output, ok = done.stdout + done.stderr, done.returncode == 0
    except subprocess.TimeoutExpired as expired:
        output = (expired.stdout or b"").decode(errors="replace") if isinstance(expired.stdout, bytes) \
            else (expired.stdout or "")
        output += f"\n[{name}] stopped after its limit of {limit} s"
        ok = False
    seconds = time.time() - start
    with open(os.path.join(log_dir, f"{name}.log"), "w") as file:
        file.write(output)
    print(f"[{name}] {'ok' if ok else 'FAILED'} in {seconds:.0f} s", flush=True)
    return ok, seconds, output


def peer_command(preset, batch_size, precisions, json_out, peak, backends, peer_compile=True,
                 compiled=("torch",)):
    command = [sys.executable, os.path.join(HERE, "peer_throughput.py"), f"--preset={preset}",
               f"--batch_size={batch_size}", f"--precisions={','.join(precisions)}",
               f"--backends={','.join(backends)}", f"--json_out={json_out}",
               f"--compiled_backends={','.join(b for b in compiled if b in backends)}"]
    if peer_compile:
        command.append("--peer_compile")
    if peak:
        command.append(f"--peak_tflops={peak}")
    if FLAGS.smoke:
        # A small matmul probe: bfloat16 on a CPU without native bfloat16 took minutes at 2048.
        command += ["--steps=2", "--rounds=1", "--warmup_steps=1", f"--overrides={json.dumps(TINY)}", "--matmul_size=256",
                    "--nopeer_compile", "--compiled_backends="]
    else:
        command += ["--steps=10", "--rounds=2", "--warmup_steps=3"]
    return command


def float16_worker():
    """~`--float16_steps` steps of mixed_float16 pretraining on resident
    synthetic CIFAR-shaped data; prints one JSON line."""
    import keras
    import numpy as np

    import keras_dsmae
    from keras_dsmae import data

    keras.config.set_dtype_policy("mixed_float16")
    keras.utils.set_random_seed(0)
    model = keras_dsmae.DSMAE.from_preset("dsmae_vit_tiny_cifar", seed=0, **(TINY if FLAGS.smoke else {}))
    model.compile(optimizer=keras.optimizers.AdamW(1.5e-4, weight_decay=0.05))
    batch = 16 if FLAGS.smoke else 256
    images = np.random.default_rng(0).integers(0, 256, (batch * 10, 32, 32, 3), dtype=np.uint8)  # 10 steps an epoch
    dataset = data.from_arrays(images, batch_size=batch, seed=0, augment_on="device")
    record = {"loss": [], "loss_scale": []}

    class Recorder(keras.callbacks.Callback):
        def on_train_batch_end(self, step, logs=None):
            record["loss"].append(float(logs["loss"]))
            scale = self.model.optimizer.dynamic_scale  # self.model: on JAX this syncs the state
            record["loss_scale"].append(float(keras.ops.convert_to_numpy(scale)))

    steps = dataset.batches_per_epoch
    epochs = math.ceil(FLAGS.float16_steps / steps)
    model.fit(dataset, epochs=epochs, verbose=0, callbacks=[keras_dsmae.callbacks.TeacherEMA(), Recorder()])
    losses = record["loss"]
    print("@@" + json.dumps({
        "steps": len(losses), "optimizer": type(model.optimizer).__name__,
        "all_finite": bool(np.all(np.isfinite(losses))), "first_loss": losses[0], "last_loss": losses[-1],
        "loss_scale_first": record["loss_scale"][0], "loss_scale_last": record["loss_scale"][-1],
        "loss_scale_min": min(record["loss_scale"]), "loss_scale_max": max(record["loss_scale"]),
    }))


def last_json_line(output):
    lines = [line[2:] for line in output.splitlines() if line.startswith("@@")]
    return json.loads(lines[-1]) if lines else None


def markdown_tables(results):
    """The README tables from the collected results."""
    lines = [f"Device: {results['device']}; {results['date']}; `{results['command']}`; "
             f"bf16 peak for MFU: {results['peak_tflops'] or 'unknown'} TFLOP/s.", ""]
    for key, title in (("peer", "dsmae_vit_tiny_cifar against lightly"),
                       ("vit_small_224", "dsmae_vit_small_224")):
        rows = [row for part in results.get(key, {}).get("rows", []) for row in part]
        if not rows:
            continue
        lines += [f"**{title}**", "", "| side | precision | batch | MAE img/s | DSD-MAE img/s | "
                  "DSD-MAE TFLOP/s | MFU MAE / DSD-MAE |", "|---|---|---|---|---|---|---|"]
        for row in rows:
            mfu = row.get("mfu")
            shown = f"{100 * mfu['mae']:.1f} % / {100 * mfu['dsmae']:.1f} %" if mfu else "—"
            lines.append(f"| {row['side']} | {row['precision']} | {row['batch_size']} | "
                         f"{row['mae_images_per_s']:.0f} | {row['dsmae_images_per_s']:.0f} | "
                         f"{row['dsmae_tflops']:.2f} | {shown} |")
        lines.append("")
    feed = results.get("feed", {}).get("backends", {})
    if feed:
        lines += ["**fit rate of the preset by input placement (img/s, median; MAE in a smoke run)**", "",
                  "| backend | host | device (uint8) | resident | in-memory arrays | resident / arrays |",
                  "|---|---|---|---|---|---|"]
        for backend, figures in feed.items():
            variant = "dsmae" if any(key.startswith("dsmae/") for key in figures["fit"]) else "mae"
            fit = {key.split("/")[-1]: sorted(values)[len(values) // 2] for key, values in figures["fit"].items()
                   if key.startswith(f"{variant}/auto/")}
            if len(fit) == 4:
                lines.append(f"| {backend} | {fit['host']:.0f} | {fit['device']:.0f} | {fit['resident']:.0f} | "
                             f"{fit['arrays']:.0f} | {fit['resident'] / fit['arrays']:.2f}× |")
        lines.append("")
    float16 = results.get("float16", {}).get("backends", {})
    if float16:
        lines += ["**mixed_float16 (loss scaling)**", "", "| backend | steps | all finite | loss first → last "
                  "| loss scale first → last (min–max) |", "|---|---|---|---|---|"]
        for backend, run in float16.items():
            lines.append(f"| {backend} | {run['steps']} | {run['all_finite']} | {run['first_loss']:.3f} → "
                         f"{run['last_loss']:.3f} | {run['loss_scale_first']:g} → {run['loss_scale_last']:g} "
                         f"({run['loss_scale_min']:g}–{run['loss_scale_max']:g}) |")
        lines.append("")
    failed = [name for name, stage in results["stages"].items() if not stage["ok"]]
    lines.append(f"Stages failed: {', '.join(failed)}." if failed else "All stages passed.")
    return "\n".join(lines) + "\n"


def main(argv):
    del argv
    if FLAGS.worker == "float16":
        float16_worker()
        return
    unknown = sorted(set(FLAGS.backends) - set(BACKENDS))
    if unknown:
        raise SystemExit(f"error: --backends: unknown {unknown}; allowed: {list(BACKENDS)}")
    device = device_name()
    peak = FLAGS.peak_tflops or peak_for(device)
    slug = re.sub(r"[^A-Za-z0-9]+", "_", device).strip("_").lower() + ("_smoke" if FLAGS.smoke else "")
    log_dir = os.path.join(FLAGS.output_dir, "gpu_check_logs", slug)
    os.makedirs(log_dir, exist_ok=True)
    results = {"device": device, "peak_tflops": peak, "date": datetime.date.today().isoformat(),
               "command": " ".join(["python benchmarks/gpu_check.py", *sys.argv[1:]]), "stages": {}}
    scale = 1 if not FLAGS.smoke else 4  # a CPU is far slower than the GPU the limits are set for
    started = time.time()

    def stage(name, command, limit, env=None):
        ok, seconds, output = run_stage(name, command, int(limit * scale), log_dir, env)
        results["stages"][name] = {"ok": ok, "seconds": round(seconds, 1)}
        return ok, output

    if "peer" in FLAGS.stages:
        parts = []
        for batch, precisions in ((256, ("float32", "bfloat16")), (1024, ("bfloat16",))):
            if FLAGS.smoke and batch > 256:
                continue
            path = os.path.join(log_dir, f"peer_{batch}.json")
            ok, _ = stage(f"peer_{batch}", peer_command(
                "dsmae_vit_tiny_cifar", 8 if FLAGS.smoke else batch, precisions, path, peak,
                FLAGS.backends), 150 if batch == 256 else 75)
            if ok:
                with open(path) as file:
                    parts.append(json.load(file))
        results["peer"] = {"rows": parts}
    if "feed" in FLAGS.stages:
        results["feed"] = {"backends": {}}
        for backend in FLAGS.backends:
            path = os.path.join(log_dir, f"feed_{backend}.json")
            # The smoke checks the wiring with MAE, whose step traces in half the time.
            command = [sys.executable, os.path.join(HERE, "device_feed.py"), f"--json_out={path}",
                       "--variants=" + ("mae" if FLAGS.smoke else "dsmae")]
            command += ["--smoke"] if FLAGS.smoke else ["--batch_size=256", "--steps=30", "--rounds=1",
                                                        "--feed_batches=100"]
            ok, _ = stage(f"feed_{backend}", command, 80, {"KERAS_BACKEND": backend})
            if ok:
                with open(path) as file:
                    results["feed"]["backends"][backend] = json.load(file)
    if "vit_small_224" in FLAGS.stages:
        path = os.path.join(log_dir, "vit_small_224.json")
        command = peer_command("dsmae_vit_small_224", 2 if FLAGS.smoke else 128, ("bfloat16",), path, peak,
                               FLAGS.backends, peer_compile=False, compiled=())
        ok, _ = stage("vit_small_224", command, 60)
        if ok:
            with open(path) as file:
                results["vit_small_224"] = {"rows": [json.load(file)]}
    if "float16" in FLAGS.stages:
        results["float16"] = {"backends": {}}
        for backend in FLAGS.backends:
            command = [sys.executable, os.path.abspath(__file__), "--worker=float16",
                       f"--float16_steps={12 if FLAGS.smoke else FLAGS.float16_steps}",
                       f"--smoke={FLAGS.smoke}"]
            ok, output = stage(f"float16_{backend}", command, 30, {"KERAS_BACKEND": backend})
            facts = last_json_line(output) if ok else None
            if facts is not None:
                results["float16"]["backends"][backend] = facts
                if not facts["all_finite"]:
                    results["stages"][f"float16_{backend}"]["ok"] = False
    results["minutes"] = round((time.time() - started) / 60, 1)
    base = os.path.join(FLAGS.output_dir, f"gpu_check_{slug}")
    with open(base + ".json", "w") as file:
        json.dump(results, file, indent=1)
    with open(base + ".md", "w") as file:
        file.write(markdown_tables(results))
    print(markdown_tables(results))
    print(f"wrote {base}.json and {base}.md in {results['minutes']} min")
    if any(not stage["ok"] for stage in results["stages"].values()):
        sys.exit(1)


if __name__ == "__main__":
    app.run(main)
