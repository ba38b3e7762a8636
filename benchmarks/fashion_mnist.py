"""Representation quality on real images: Fashion-MNIST (28×28×1).

Pretrains, at equal budget (same model, epochs, batch and optimizer),
plain MAE and DSD-MAE, and compares them with the same ViT left at random
initialisation and with the raw pixels: kNN accuracy, linear-probe accuracy
and fine-tuning accuracy on the official test set, for each of `--seeds`
(mean ± std across seeds). Prints a Markdown table and writes
`results.json`, `curves.png` (pretraining losses) and `accuracy.png`.

Pretrained encoders are cached under `<output_dir>/encoders/` with the
settings that made them, and their scores under `<output_dir>/scores/` with
the evaluation settings: a rerun (after a kill, or with more seeds or
configs) loads them instead of pretraining and evaluating again, and redoes
what a changed setting touches. Seeds run as separate invocations into one
folder (e.g. to fit a time limit) are tabled together by one more
invocation with all of them.

Data: Debian's package (`apt-get install -y dataset-fashion-mnist`), idx files
in /usr/share/datasets/fashion-mnist/, read through the package's generic
numpy path (`keras_dsmae.data.from_arrays`).

    python benchmarks/fashion_mnist.py                      # default (3 seeds), ≈ 30 min on 2 CPU cores
    python benchmarks/fashion_mnist.py --configs=mae,dsmae,d2v_targets,predictor,weight_warmup,\
        lagging_teacher,dsmae_combo --finetune_epochs=0 --baseline=dsmae   # the ablation, paired by seed
    python benchmarks/fashion_mnist.py --from_results=runs/fashion_mnist/results.json \
        --baseline=mae --output_dir=/tmp/replot             # tables and plots again, no evaluation
    python benchmarks/fashion_mnist.py --epochs=1 --finetune_examples=2000 --eval_train_examples=2000  # smoke
    python benchmarks/fashion_mnist.py --epochs=12 --configs=mae,dsmae_combo --seeds=0 --finetune_examples=60000 \
        --finetune_epochs=30 --finetune_crop_scale_min=0.6 --evaluate_teacher=false   # augmented fine-tuning

The backend is KERAS_BACKEND (default here: torch, the fastest on CPU for this model).
"""

import gzip
import json
import os
import sys
import textwrap
import time
from typing import Any, NamedTuple

os.environ.setdefault("KERAS_BACKEND", "torch")

from absl import app, flags  # noqa: E402
from seed_statistics import mean_std, paired_difference  # noqa: E402  (this script's folder)

from keras_dsmae.utils.atomic_write import atomic_path, write_json  # noqa: E402

PIXELS = "pixels"


class Config(NamedTuple):
    label: str
    overrides: Any  # DSMAE overrides; None = no pretraining; PIXELS = no encoder
    epochs_scale: float = 1.0  # pretraining epochs = round(--epochs × this)


# the combination of the changes that helped alone (the `dsmae_*` presets' settings)
COMBINED = dict(teacher_target="layer_average", feature_loss="mse", feature_predictor_depth=1,
                loss_weight=0.5, loss_weight_warmup=0.25, teacher_update_every=100, teacher_momentum=0.9)

CONFIGS = {
    "pixels": Config("raw pixels", PIXELS),
    "random": Config("random init", None),
    "mae": Config("MAE", dict(noise_std=0.0, loss_weight=0.0)),
    "dsmae": Config("DSD-MAE", dict()),
    # equal wall time: MAE for as many epochs as DSD-MAE's time buys (--equal_time_factor)
    "mae_equal_time": Config("MAE, equal wall time", dict(noise_std=0.0, loss_weight=0.0), None),
    # ablation: one change each against `dsmae`
    "denoise_mae": Config("MAE + noise (no teacher)", dict(loss_weight=0.0)),
    "teacher_mae": Config("MAE + teacher (no noise)", dict(noise_std=0.0)),
    "d2v_targets": Config("DSD-MAE, layer-average targets + MSE",
                          dict(teacher_target="layer_average", feature_loss="mse")),
    "lagging_teacher": Config("DSD-MAE, teacher moves every 100 steps (m 0.9)",
                              dict(teacher_update_every=100, teacher_momentum=0.9)),
    "weight_warmup": Config("DSD-MAE, weight 0.5 warmed up over 25 %",
                            dict(loss_weight=0.5, loss_weight_warmup=0.25)),
    "predictor": Config("DSD-MAE, separate 1-block feature predictor", dict(feature_predictor_depth=1)),
    "image_regression": Config("DSD-MAE + image-level regression (0.1)", dict(image_loss_weight=0.1)),
    "image_contrast": Config("DSD-MAE + image-level contrast (0.5)",
                             dict(image_loss_weight=0.5, image_loss="contrast")),
    # the changes that helped alone (2026-11-30 screening, seed 0), together
    "dsmae_combo": Config(
        "DSD-MAE, combined (layer-average MSE targets, 1-block predictor, weight 0.5 warmed up "
        "over 25 %, teacher moves every 100 steps)", COMBINED),
    # variations of the combination
    "combo_staged": Config(
        "DSD-MAE, combined with a staged teacher (dBOT: a copy of the student every 234 steps, "
        "one epoch at batch 256)",
        {**COMBINED, "teacher_update_every": 234, "teacher_momentum": 0.0, "teacher_momentum_end": 0.0}),
    "combo_light": Config("DSD-MAE, combined with weight 0.25", {**COMBINED, "loss_weight": 0.25}),
    "combo_heavy": Config("DSD-MAE, combined with weight 1.0", {**COMBINED, "loss_weight": 1.0}),
    "combo_clean": Config("DSD-MAE, combined without noise", {**COMBINED, "noise_std": 0.0}),
    "combo_deep_predictor": Config("DSD-MAE, combined with a 2-block feature predictor",
                                   {**COMBINED, "feature_predictor_depth": 2}),
    # MV-MAE: pixel reconstruction of two views + InfoNCE of their pooled encodings
    "mvmae_crops": Config("MV-MAE, two crops (contrast 0.1)",
                          dict(noise_std=0.0, loss_weight=0.0, contrast_weight=0.1, contrast_views="crops")),
    "mvmae_masks": Config("MV-MAE, two masks of one crop (contrast 0.1)",
                          dict(noise_std=0.0, loss_weight=0.0, contrast_weight=0.1)),
    "dsmae_crops": Config("DSD-MAE + two-crop contrast (0.1)",
                          dict(contrast_weight=0.1, contrast_views="crops")),
}

flags.DEFINE_string("data_dir", "/usr/share/datasets/fashion-mnist", "Folder with the idx .gz files.")
flags.DEFINE_string("output_dir", "runs/fashion_mnist", "Where results and plots go.")
flags.DEFINE_list("configs", ["pixels", "random", "mae", "dsmae"], f"Any of {sorted(CONFIGS)}.")
flags.DEFINE_integer("epochs", 4, "Pretraining epochs over the 60k training images (each method).")
flags.DEFINE_integer("batch_size", 256, "Pretraining batch.")
flags.DEFINE_float("learning_rate", 1e-3, "Base pretraining rate (scaled by batch/256).")
flags.DEFINE_float("warmup_epochs", 0.25, "Pretraining warm-up.")
flags.DEFINE_float("mask_ratio", 0.75, "Masked fraction of the 16 patches.")
flags.DEFINE_float("noise_std", 0.25, "DSD-MAE noise (normalised pixel units).")
flags.DEFINE_float("loss_weight", 1.0, "DSD-MAE feature-distillation weight.")
flags.DEFINE_float("teacher_momentum", 0.99, "Initial EMA momentum (short runs want < 0.996).")
flags.DEFINE_float("crop_scale_min", 0.35, "Smallest random-resized-crop area.")
flags.DEFINE_enum("augment_on", "host", ["host", "device"],
                  "Where the pretraining crops, flips and normalisation run (data.device_feed); "
                  "host is the setting of every figure so far.")
flags.DEFINE_integer("encoder_dim", 128, "ViT width.")
flags.DEFINE_integer("encoder_depth", 4, "ViT blocks.")
flags.DEFINE_integer("patch_size", 7, "Patch size (28 must be divisible by it).")
flags.DEFINE_integer("eval_train_examples", 10000, "Training images used as kNN / probe references.")
flags.DEFINE_integer("knn_k", 20, "kNN neighbours.")
flags.DEFINE_integer("linear_epochs", 50, "Linear-probe epochs (on cached features).")
flags.DEFINE_integer("finetune_examples", 20000, "Training images for fine-tuning.")
flags.DEFINE_integer("finetune_epochs", 1, "Fine-tuning epochs (0: no fine-tuning).")
flags.DEFINE_float("finetune_learning_rate", 1e-3, "Base fine-tuning rate (scaled by batch/256).")
flags.DEFINE_float("finetune_crop_scale_min", 0.0,
                   "Smallest random-resized-crop area for fine-tuning images (with a random flip, through "
                   "`data.from_arrays(training=True)`); 0: no augmentation.", lower_bound=0.0, upper_bound=1.0)
flags.DEFINE_float("finetune_mixing", 0.0,
                   "Fine-tuning MixUp alpha 0.8 × this and CutMix alpha 1.0 × this (the MAE recipe at 1); 0: off.",
                   lower_bound=0.0)
flags.DEFINE_float("equal_time_factor", 1.8,
                   "Epoch multiplier of `mae_equal_time`: DSD-MAE's pretraining time over MAE's "
                   "(4.6 / 2.6 min in the 2026-11-30 default run).")
flags.DEFINE_enum("pooling", "mean", ["mean", "mean_last2"],
                  "Features for kNN and the linear probe: mean-pooled last block, or the mean-pooled "
                  "average of the last two blocks (the raw-pixels row is always the pixels).")
flags.DEFINE_boolean("evaluate_teacher", True, "Also evaluate the EMA teacher (kNN, linear) of teacher configs.")
flags.DEFINE_string("baseline", "",
                    "One of --configs: also print every other row's difference from it, paired by seed.")
flags.DEFINE_string("from_results", "",
                    "A saved results.json: print its tables and plot it again (into --output_dir), no evaluation.")
flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds; each config is pretrained and evaluated once per seed.")
flags.DEFINE_enum("mixed_precision", "float32", ["float32", "bfloat16"],
                  "Pretraining precision (bfloat16: mixed_bfloat16); evaluation always runs in float32.")
FLAGS = flags.FLAGS


def read_idx(path):
    """numpy array from an idx(.gz) file (the MNIST format)."""
    import numpy as np

    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as file:
        raw = file.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_fashion_mnist(folder):
    names = {
        "train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
        "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte",
    }
    arrays = {}
    for key, name in names.items():
        path = next((os.path.join(folder, name + ext) for ext in (".gz", "")
                     if os.path.exists(os.path.join(folder, name + ext))), None)
        if path is None:
            raise SystemExit(
                f"{name}(.gz) not found in {folder}. Install the data with "
                f"`apt-get install -y dataset-fashion-mnist` or pass --data_dir."
            )
        arrays[key] = read_idx(path)
    return arrays


def model_config(seed):
    return dict(
        image_size=28, patch_size=FLAGS.patch_size, num_channels=1,
        encoder_dim=FLAGS.encoder_dim, encoder_depth=FLAGS.encoder_depth, encoder_heads=4,
        decoder_dim=64, decoder_depth=2, decoder_heads=4, mlp_ratio=4.0,
        mask_ratio=FLAGS.mask_ratio, noise_std=FLAGS.noise_std, loss_weight=FLAGS.loss_weight,
        teacher_momentum=FLAGS.teacher_momentum, seed=seed,
    )


def config_epochs(name):
    """Pretraining epochs of a config: `--epochs` × its scale."""
    scale = CONFIGS[name].epochs_scale
    return max(1, round(FLAGS.epochs * (FLAGS.equal_time_factor if scale is None else scale)))


def has_teacher(name):
    """Whether a pretrained config trains an EMA teacher."""
    from keras_dsmae.models import method_settings

    defaults = {"loss_weight": FLAGS.loss_weight, "image_loss_weight": 0.0}
    return method_settings.has_teacher({**defaults, **CONFIGS[name].overrides})


def float32_copy(encoder):
    """The same (float32) weights in a float32 encoder, for evaluation."""
    import keras_dsmae

    copy = keras_dsmae.models.ViTEncoder.from_config({**encoder.get_config(), "dtype": "float32"})
    copy.build((None, 28, 28, 1))
    copy.set_weights(encoder.get_weights())
    return copy


def pretrain(overrides, train_stream, steps_per_epoch, seed, epochs):
    """`(student encoder, teacher encoder or None, loss trace)` after `epochs`."""
    import keras

    import keras_dsmae
    from keras_dsmae.training import pretraining_optimizer

    class LossTrace(keras.callbacks.Callback):
        """Every 10th step: the global step and the epoch's running-mean losses."""

        def on_train_begin(self, logs=None):
            self.trace, self.step = [], 0

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            if self.step % 10 == 0:
                self.trace.append({"step": self.step, **{k: float(v) for k, v in logs.items()}})

    keras.utils.set_random_seed(seed)
    keras.config.set_dtype_policy("mixed_bfloat16" if FLAGS.mixed_precision == "bfloat16" else "float32")
    model = keras_dsmae.DSMAE(**{**model_config(seed), **overrides})
    total = epochs * steps_per_epoch
    model.compile(optimizer=pretraining_optimizer(
        FLAGS.learning_rate, FLAGS.batch_size, total, round(FLAGS.warmup_epochs * steps_per_epoch), 0.05))
    trace = LossTrace()
    callbacks = [trace]
    if model.teacher is not None:
        callbacks.append(keras_dsmae.callbacks.TeacherEMA())
    model.fit(train_stream, epochs=epochs, callbacks=callbacks, verbose=2)
    keras.config.set_dtype_policy("float32")
    encoders = [model.encoder, model.teacher]
    if FLAGS.mixed_precision != "float32":
        encoders = [None if e is None else float32_copy(e) for e in encoders]
    return encoders[0], encoders[1], trace.trace


def random_encoder(seed):
    import keras

    import keras_dsmae

    keras.utils.set_random_seed(seed)
    return keras_dsmae.DSMAE(**{**model_config(seed), "noise_std": 0.0, "loss_weight": 0.0}).encoder


def pixels_model():
    """Images → their flattened normalised pixels (the raw-pixels row)."""
    import keras

    inputs = keras.Input((28, 28, 1))
    return keras.Model(inputs, keras.layers.Flatten()(inputs), name="raw_pixels")


def pretraining_settings(name, seed):
    """What a cached encoder must have been pretrained with to be reused."""
    keys = ("epochs", "batch_size", "learning_rate", "warmup_epochs", "mask_ratio", "noise_std",
            "loss_weight", "teacher_momentum", "crop_scale_min", "encoder_dim", "encoder_depth",
            "patch_size", "mixed_precision")
    settings = {"config": name, "overrides": CONFIGS[name].overrides, "seed": seed,
                **{key: FLAGS[key].value for key in keys}, "epochs": config_epochs(name)}
    if FLAGS.augment_on != "host":  # recorded only when on, so earlier caches stay valid
        settings["augment_on"] = FLAGS.augment_on
    return settings


def cached_pretraining(name, seed, pretrain_now):
    """`(encoder, teacher or None, trace, minutes)` from `<output_dir>/encoders/`
    when its recorded settings match, else from `pretrain_now()` (then cached)."""
    import keras

    import keras_dsmae  # noqa: F401  (registers the layers for loading)

    stem = os.path.join(FLAGS.output_dir, "encoders", f"{name}_seed{seed}")
    settings = pretraining_settings(name, seed)
    if os.path.exists(stem + ".json") and os.path.exists(stem + ".keras"):
        with open(stem + ".json") as file:
            cached = json.load(file)
        teacher_path = cached.get("teacher")
        teacher_kept = os.path.exists(teacher_path) if teacher_path else not has_teacher(name)
        if cached["settings"] == json.loads(json.dumps(settings)) and teacher_kept:
            print(f"  cached encoder {stem}.keras ({cached['minutes']:.1f} min of pretraining)", flush=True)
            teacher = keras.models.load_model(teacher_path) if teacher_path else None
            return keras.models.load_model(stem + ".keras"), teacher, cached["trace"], cached["minutes"]
        print(f"  {stem}.keras was pretrained with other settings; pretraining again", flush=True)
    start = time.time()
    encoder, teacher, trace = pretrain_now()
    minutes = (time.time() - start) / 60
    if os.path.exists(scores_path(name, seed)):  # scores of the encoder this one replaces
        os.remove(scores_path(name, seed))
    teacher_path = None
    if teacher is not None:
        teacher_path = stem + "_teacher.keras"
        with atomic_path(teacher_path) as partial:
            teacher.save(partial)
    with atomic_path(stem + ".keras") as partial:
        encoder.save(partial)
    write_json(stem + ".json", {"settings": settings, "trace": trace, "minutes": minutes, "teacher": teacher_path})
    return encoder, teacher, trace, minutes


def evaluation_settings():
    """What recorded scores must have been evaluated with to be reused."""
    keys = ("eval_train_examples", "knn_k", "linear_epochs", "finetune_examples", "finetune_epochs",
            "finetune_learning_rate", "pooling")
    settings = {key: FLAGS[key].value for key in keys}
    for key in ("finetune_crop_scale_min", "finetune_mixing"):  # recorded only when on, so that
        if FLAGS[key].value:  # scores recorded before these flags existed stay valid
            settings[key] = FLAGS[key].value
    return settings


def scores_path(name, seed):
    return os.path.join(FLAGS.output_dir, "scores", f"{name}_seed{seed}.json")


def cached_scores(name, seed, role, evaluate_now):
    """The `role` ("student" or "teacher") scores of config `name` at `seed`
    from `<output_dir>/scores/` when recorded with the same pretraining and
    evaluation settings, else `evaluate_now()` (then recorded)."""
    path = scores_path(name, seed)
    settings = json.loads(json.dumps({"pretraining": pretraining_settings(name, seed),
                                      "evaluation": evaluation_settings()}))
    recorded = {}
    if os.path.exists(path):
        with open(path) as file:
            recorded = json.load(file)
        if recorded["settings"] != settings:
            recorded = {}
    if role in recorded.get("scores", {}):
        scores = recorded["scores"][role]
        print(f"  cached {role} scores {path}: " + "  ".join(f"{k} {v:.4f}" for k, v in scores.items()),
              flush=True)
        return scores
    scores = evaluate_now()
    recorded = {"settings": settings, "scores": {**recorded.get("scores", {}), role: scores}}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_json(path, recorded)
    return scores


def evaluate(encoder, arrays, normalization, seed, finetune=True):
    import numpy as np

    from keras_dsmae import data, evaluation

    def normalised(images):
        return ((images[..., None] / 255.0 - np.asarray(normalization.mean)) / np.asarray(normalization.std)).astype("float32")

    n_eval, n_tune = FLAGS.eval_train_examples, FLAGS.finetune_examples
    reference = (normalised(arrays["train_images"][:n_eval]), arrays["train_labels"][:n_eval])
    test = (normalised(arrays["test_images"]), arrays["test_labels"])
    scores = {}
    start = time.time()
    pooling = FLAGS.pooling if hasattr(encoder, "block_outputs") else "mean"
    scores["knn"] = evaluation.knn_accuracy(encoder, reference, test, k=FLAGS.knn_k, batch_size=512,
                                            pooling=pooling)
    scores["linear"] = evaluation.linear_probe(encoder, reference, test, epochs=FLAGS.linear_epochs,
                                               batch_size=512, seed=seed, pooling=pooling)
    print(f"  kNN {scores['knn']:.4f}  linear {scores['linear']:.4f}  ({time.time() - start:.0f} s)", flush=True)
    if not finetune or not FLAGS.finetune_epochs:
        return scores
    start = time.time()
    batch_size = 128  # the pipeline's batches and the rate scaling of fine_tune must agree
    if FLAGS.finetune_crop_scale_min:
        tune = data.from_arrays(arrays["train_images"][:n_tune], arrays["train_labels"][:n_tune].astype("int64"),
                                batch_size=batch_size, normalization=normalization, training=True,
                                crop_scale=(FLAGS.finetune_crop_scale_min, 1.0), seed=seed)
    else:
        tune = (normalised(arrays["train_images"][:n_tune]), arrays["train_labels"][:n_tune])
    mixup_alpha, cutmix_alpha = finetune_mixing_alphas()
    result = evaluation.fine_tune(
        encoder, tune, test, num_classes=10, epochs=FLAGS.finetune_epochs, batch_size=batch_size,
        learning_rate=FLAGS.finetune_learning_rate, warmup_epochs=0.1, mixup_alpha=mixup_alpha,
        cutmix_alpha=cutmix_alpha, drop_path_rate=0.1, seed=seed, verbose=2,
    )
    scores["finetune"] = result.accuracy
    print(f"  fine-tune {scores['finetune']:.4f}  ({time.time() - start:.0f} s)", flush=True)
    return scores


def finetune_mixing_alphas():
    """`(MixUp alpha, CutMix alpha)` of fine-tuning: the MAE recipe's 0.8 / 1.0 × --finetune_mixing."""
    return 0.8 * FLAGS.finetune_mixing, 1.0 * FLAGS.finetune_mixing


def finetune_recipe():
    """The fine-tuning augmentation for the summary line ("" when none)."""
    parts = []
    if FLAGS.finetune_crop_scale_min:
        parts.append(f"random resized crop (area ≥ {FLAGS.finetune_crop_scale_min:g}) + flip")
    if FLAGS.finetune_mixing:
        parts.append("MixUp {:g} / CutMix {:g}".format(*finetune_mixing_alphas()))
    return " with " + " and ".join(parts) if parts else ""


def machine():
    """`"<n> CPU cores"`, plus the accelerator the backend computes on, if any."""
    import keras

    cores = f"{os.cpu_count()} CPU cores"
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        name = device.device_kind if device.platform != "cpu" else None
    elif backend == "torch":
        import torch

        name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    else:
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU") if gpus else None
    return f"{name}, {cores}" if name else cores


def cell(runs, metric):
    stats = mean_std(runs, metric)
    if stats is None:
        return "—"
    return f"{stats[0]:.1f}%" + (f" ± {stats[1]:.1f}" if len(runs) > 1 else "")


def difference_table(results, baseline):
    """Markdown table: each row's accuracy minus `baseline`'s, paired by seed."""
    lines = [f"| model (minus {results[baseline]['label']}, same seed) | kNN | linear probe | fine-tune |",
             "|---|---|---|---|"]
    for name, r in results.items():
        if name == baseline:
            continue
        cells = []
        for metric in ("knn", "linear", "finetune"):
            stats = paired_difference(r["runs"], results[baseline]["runs"], metric)
            cells.append("—" if stats is None else f"{stats[0]:+.1f}" + (
                f" ± {stats[1]:.1f}" if len(r["runs"]) > 1 else ""))
        lines.append(f"| {r['label']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(results, path_curves, path_accuracy):
    import numpy as np

    from keras_dsmae.utils.pyplot import pyplot, save_figure

    plt = pyplot()
    # one colour per row in both figures (the default cycle repeats after 10)
    palette = plt.get_cmap("tab10" if len(results) <= 10 else "tab20")
    colour = {name: palette(i % palette.N) for i, name in enumerate(results)}
    traced = {name: r for name, r in results.items() if r["runs"][0]["trace"]}
    if traced:
        keys = ["pixel_loss", "feature_loss", "target_std"]
        figure, axes = plt.subplots(1, 3, figsize=(13, 3.4))
        for axis, key in zip(axes, keys):
            for name, r in traced.items():
                points = [(t["step"], t[key]) for t in r["runs"][0]["trace"] if key in t]
                if points:
                    axis.plot(*zip(*points), label=textwrap.fill(r["label"], 60), color=colour[name])
            title = {"target_std": "target_std (spread across tokens; 0 = collapse)"}.get(key, key)
            axis.set_title(title + "\n(running mean within each epoch; first seed)", fontsize=8)
            axis.set_xlabel("training step")
            axis.grid(alpha=0.3)
        figure.tight_layout()
        if axes[0].get_lines():  # every config draws a pixel loss, in its own colour: one legend
            figure.legend(*axes[0].get_legend_handles_labels(), loc="upper center",
                          bbox_to_anchor=(0.5, 0.0), ncol=2, fontsize=7)
        save_figure(figure, path_curves, dpi=90, bbox_inches="tight")
    figure, axis = plt.subplots(figsize=(11, 3.8))
    metrics = ["knn", "linear", "finetune"]
    width = 0.8 / len(results)
    heights = []
    for i, (name, r) in enumerate(results.items()):
        stats = [mean_std(r["runs"], m) or (np.nan, 0.0) for m in metrics]
        heights += [mean for mean, _ in stats if not np.isnan(mean)]
        positions = [m + i * width for m in range(len(metrics))]
        bars = axis.bar(positions, [mean for mean, _ in stats], width, yerr=[std for _, std in stats],
                        label=textwrap.fill(r["label"], 48), capsize=2, color=colour[name])
        axis.bar_label(bars, fmt="%.1f", fontsize=6, rotation=90, padding=2)
    axis.set_xticks([m + width * (len(results) - 1) / 2 for m in range(len(metrics))])
    axis.set_xticklabels(["kNN", "linear probe", "fine-tune"])
    axis.set_ylabel("test accuracy (%),\nmean ± std over seeds")
    axis.set_ylim(max(0, 5 * np.floor(min(heights, default=50) / 5) - 5),
                  min(100, max(heights, default=96) + 4))  # close to the bars, so differences show
    axis.grid(axis="y", alpha=0.3)
    axis.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    save_figure(figure, path_accuracy, dpi=90, bbox_inches="tight")


def run_config(name, seed, arrays, steps_per_epoch):
    """One config at one seed: `{"seed", "trace", "minutes", "scores"}`, and
    the teacher's `{"seed", "trace", "minutes", "scores"}` (or None)."""
    from keras_dsmae import data

    overrides = CONFIGS[name].overrides
    stream = data.from_arrays(arrays["train_images"], batch_size=FLAGS.batch_size, seed=seed,
                              crop_scale=(FLAGS.crop_scale_min, 1.0), augment_on=FLAGS.augment_on)
    teacher = None
    if overrides == PIXELS:
        encoder, trace, minutes = pixels_model(), [], 0.0
    elif overrides is None:
        encoder, trace, minutes = random_encoder(seed), [], 0.0
    else:
        encoder, teacher, trace, minutes = cached_pretraining(
            name, seed, lambda: pretrain(overrides, stream, steps_per_epoch, seed, config_epochs(name)))
    scores = cached_scores(name, seed, "student", lambda: evaluate(
        encoder, arrays, stream.normalization, seed, finetune=overrides != PIXELS))
    student_run = dict(seed=seed, trace=trace, minutes=minutes, scores=scores)
    if teacher is None or not FLAGS.evaluate_teacher:
        return student_run, None
    print("  teacher:", flush=True)
    teacher_scores = cached_scores(name, seed, "teacher", lambda: evaluate(
        teacher, arrays, stream.normalization, seed, finetune=False))
    return student_run, dict(seed=seed, trace=[], minutes=minutes, scores=teacher_scores)


def report(summary, table, results, run_flags):
    """Print the tables (and the differences from --baseline), write
    `results.json` (with `run_flags`, the flags of the run that evaluated)
    and the two plots into --output_dir."""
    differences = difference_table(results, FLAGS.baseline) if FLAGS.baseline else ""
    print("\n" + summary + "\n\n" + table + ("\n\n" + differences if differences else ""))
    os.makedirs(FLAGS.output_dir, exist_ok=True)
    write_json(os.path.join(FLAGS.output_dir, "results.json"),
               {"summary": summary, "table": table, "differences": differences, "flags": run_flags,
                "results": results}, indent=1, default=str)
    plot(results, os.path.join(FLAGS.output_dir, "curves.png"), os.path.join(FLAGS.output_dir, "accuracy.png"))
    print(f"\nwrote {FLAGS.output_dir}/results.json, curves.png, accuracy.png")


def report_saved(path):
    """`report` again from a saved `results.json` (no evaluation): other
    plots, or differences from another --baseline."""
    with open(path) as file:
        saved = json.load(file)
    if FLAGS.baseline and FLAGS.baseline not in saved["results"]:
        raise SystemExit(f"--baseline must be one of the saved rows {sorted(saved['results'])}; "
                         f"got {FLAGS.baseline!r}")
    report(saved["summary"], saved["table"], saved["results"], saved["flags"])


def main(argv):
    del argv
    if FLAGS.from_results:
        return report_saved(FLAGS.from_results)
    unknown = sorted(set(FLAGS.configs) - set(CONFIGS))  # checked before any work
    if unknown:
        raise SystemExit(f"--configs: unknown {unknown}; allowed: {sorted(CONFIGS)}")
    if FLAGS.baseline and FLAGS.baseline not in FLAGS.configs:
        raise SystemExit(f"--baseline must be one of --configs {FLAGS.configs}; got {FLAGS.baseline!r}")
    try:
        seeds = [int(seed) for seed in FLAGS.seeds]
    except ValueError:
        raise SystemExit(f"--seeds must be integers; got {FLAGS.seeds}") from None
    import keras

    began = time.time()
    arrays = load_fashion_mnist(FLAGS.data_dir)
    steps_per_epoch = len(arrays["train_images"]) // FLAGS.batch_size
    os.makedirs(FLAGS.output_dir, exist_ok=True)
    print(f"Fashion-MNIST benchmark on {keras.backend.backend()}: {FLAGS.epochs} pretraining epochs × "
          f"{steps_per_epoch} steps; configs {FLAGS.configs}; seeds {seeds}", flush=True)
    results = {}
    for name in FLAGS.configs:
        config = CONFIGS[name]
        pretrained = config.overrides not in (None, PIXELS)
        epochs = config_epochs(name) if pretrained else 0
        label = config.label + (f" ({epochs} epochs)" if epochs != FLAGS.epochs and pretrained else "")
        results[name] = dict(label=label, runs=[], pretrained=pretrained)
        teacher_runs = []
        for seed in seeds:
            print(f"\n== {label}, seed {seed} ==", flush=True)
            student_run, teacher_run = run_config(name, seed, arrays, steps_per_epoch)
            results[name]["runs"].append(student_run)
            if teacher_run is not None:
                teacher_runs.append(teacher_run)
        if teacher_runs:
            results[name + ":teacher"] = dict(label=label + " — EMA teacher", runs=teacher_runs,
                                              pretrained=True)
    minutes = (time.time() - began) / 60
    header = "| model | kNN (k=%d) | linear probe | fine-tune | pretraining (min) |" % FLAGS.knn_k
    lines = [header, "|---|---|---|---|---|"]
    for name, r in results.items():
        pretrained = r["pretrained"]
        pretraining = f"{sum(run['minutes'] for run in r['runs']) / len(r['runs']):.1f}" if pretrained else "—"
        lines.append(f"| {r['label']} | {cell(r['runs'], 'knn')} | {cell(r['runs'], 'linear')} | "
                     f"{cell(r['runs'], 'finetune')} | {pretraining} |")
    table = "\n".join(lines)
    command = "python benchmarks/fashion_mnist.py " + " ".join(sys.argv[1:])
    summary = (
        f"{time.strftime('%Y-%m-%d')}, `{command.strip()}`, KERAS_BACKEND={keras.backend.backend()}, "
        f"{machine()}, {minutes:.0f} min in all (cached encoders and scores are reused), "
        f"pretraining in {FLAGS.mixed_precision}. Seeds {seeds} (mean ± std). Budget: {FLAGS.epochs} pretraining epochs "
        f"of 60k images at batch {FLAGS.batch_size}; ViT {FLAGS.encoder_dim}×{FLAGS.encoder_depth}, patch "
        f"{FLAGS.patch_size}; features: {FLAGS.pooling} pooling; kNN/probe references: first {FLAGS.eval_train_examples} training images; "
        f"fine-tune: {FLAGS.finetune_epochs} epoch(s) on the first {FLAGS.finetune_examples}{finetune_recipe()}; "
        f"test: the 10k test images; pretraining minutes: the mean over seeds when it ran."
    )
    report(summary, table, results, FLAGS.flag_values_dict())


if __name__ == "__main__":
    app.run(main)
