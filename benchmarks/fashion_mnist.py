"""Representation quality on real images: Fashion-MNIST (28×28×1).

Pretrains, at equal budget (same model, epochs, batch and optimizer; or,
with `--match=flops`, the same analytic training FLOPs),
plain MAE and DSD-MAE (and any row of `quality/ablations.json`) with the
package's own job (`keras_dsmae.training.run_pretraining`), and compares
them with the same ViT left at random initialisation and with the raw
pixels: kNN, linear-probe and fine-tuning accuracy on the official test
set, through `keras_dsmae.evaluation`, for each of `--seeds` (mean ± std
across seeds). Prints a Markdown table and writes `results.json`,
`curves.png` (pretraining losses), `accuracy.png` and `compute.png`
(accuracy against pretraining FLOPs and minutes).

Each row's run folder (`<output_dir>/runs/<row>_seed<seed>/`) is its cache:
a rerun finds it finished, a killed run resumes from its last checkpoint,
and a run whose settings changed starts again. Scores are recorded under
`<output_dir>/scores/` with the settings that made them. Seeds run as
separate invocations into one folder are tabled together by one more
invocation with all of them.

Data: Debian's package (`apt-get install -y dataset-fashion-mnist`), idx
files in /usr/share/datasets/fashion-mnist/, given to the job as a `.npy`
file (`--dataset=npy:PATH`).

    python benchmarks/fashion_mnist.py                      # default (3 seeds), ≈ 30 min on 2 CPU cores
    python benchmarks/fashion_mnist.py --configs=mae,dsmae,d2v_targets,predictor,weight_warmup,\
        lagging_teacher,dsmae_combo --finetune_epochs=0 --baseline=dsmae   # the ablation, paired by seed
    python benchmarks/fashion_mnist.py --match=flops --flops_of=mae_equal_time \
        --configs=mae,mae_equal_time,dsmae_combo,combo_m2 --baseline=mae_equal_time   # equal FLOPs
    python benchmarks/fashion_mnist.py --from_results=runs/fashion_mnist/results.json \
        --baseline=mae --output_dir=/tmp/replot             # tables and plots again, no evaluation
    python benchmarks/fashion_mnist.py --epochs=1 --train_examples=2000 --finetune_examples=2000 \
        --eval_train_examples=2000 --test_examples=2000 --seeds=0   # smoke

The backend is KERAS_BACKEND (default here: torch, the fastest on CPU for this model).
"""

import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "torch")

from absl import app, flags  # noqa: E402
from quality.ablations import ABLATIONS, PIXELS  # noqa: E402  (this script's folder)
from quality.budget import Budget  # noqa: E402
from quality.fashion_mnist_data import load_fashion_mnist, normalization_of, training_file  # noqa: E402
from quality.pretraining import pixels_model, pretrained, random_encoder  # noqa: E402
from quality.report import accuracy_table, machine, report, report_saved  # noqa: E402
from quality.scores import cached_scores, evaluate, forget_scores  # noqa: E402

import keras_dsmae  # noqa: E402
from keras_dsmae.utils.settings import define_flags, from_flags  # noqa: E402

define_flags(Budget)
flags.DEFINE_string("from_results", "",
                    "A saved results.json: print its tables and plot it again (into --output_dir), no evaluation.")
FLAGS = flags.FLAGS


def score_row(budget, ablation, seed, arrays, train_file, normalization):
    """One row at one seed: `(student run, teacher run or None)`, each
    `{"seed", "trace", "minutes", "flops", "scores"}` (pretraining minutes
    and analytic training FLOPs, 0 without pretraining)."""
    teacher, trace, minutes, flops = None, [], 0.0, 0.0
    count = len(arrays["train_images"])
    if ablation.encoder == PIXELS:
        encoder = pixels_model()
    elif not ablation.pretrained:
        encoder = random_encoder(budget, ablation, seed)
    else:
        encoder, teacher, trace, minutes, trained = pretrained(
            budget, ablation, seed, train_file, count, normalization)
        flops = budget.training_flops(ablation, count)
        if trained:
            forget_scores(budget, ablation, seed)  # they scored the encoder this one replaces
    scores = cached_scores(budget, ablation, seed, count, "student", lambda: evaluate(
        budget, encoder, arrays, normalization, seed, finetune=ablation.encoder != PIXELS))
    student = dict(seed=seed, trace=trace, minutes=minutes, flops=flops, scores=scores)
    if teacher is None or not budget.evaluate_teacher:
        return student, None
    print("  teacher:", flush=True)
    teacher_scores = cached_scores(budget, ablation, seed, count, "teacher", lambda: evaluate(
        budget, teacher, arrays, normalization, seed, finetune=False))
    return student, dict(seed=seed, trace=[], minutes=minutes, flops=flops, scores=teacher_scores)


def row_label(budget, ablation, train_count):
    """A row's label, with its epochs where they are not `--epochs`."""
    if not ablation.pretrained:
        return ablation.label
    epochs = budget.steps_of(ablation, train_count) / budget.steps_per_pass(train_count)  # passes
    if epochs == budget.epochs:
        return ablation.label
    return f"{ablation.label} ({epochs:.3g} epochs)"


def run(budget):
    """Every row at every seed: `{row: {"label", "runs", "pretrained"}}`
    (teacher rows as `<row>:teacher`), and the data's `{split: image count}`."""
    arrays = load_fashion_mnist(budget.data_dir, budget.train_examples, budget.test_examples)
    train_file = training_file(arrays["train_images"], os.path.join(budget.output_dir, "data"))
    normalization = normalization_of(arrays["train_images"])
    results = {}
    for name in budget.configs:
        ablation = ABLATIONS[name]
        label = row_label(budget, ablation, len(arrays["train_images"]))
        results[name] = dict(label=label, runs=[], pretrained=ablation.pretrained,
                             overrides=ablation.overrides)
        teacher_runs = []
        for seed in budget.seeds:
            print(f"\n== {label}, seed {seed} ==", flush=True)
            student, teacher = score_row(budget, ablation, seed, arrays, train_file, normalization)
            results[name]["runs"].append(student)
            if teacher is not None:
                teacher_runs.append(teacher)
        if teacher_runs:
            results[name + ":teacher"] = dict(label=label + " — EMA teacher", runs=teacher_runs, pretrained=True)
    return results, {split: len(arrays[f"{split}_images"]) for split in ("train", "test")}


def _budget_words(budget):
    if budget.match == "epochs":
        return f"{budget.epochs} pretraining epochs"
    scale = "" if budget.flops_scale == 1 else f"{budget.flops_scale:g} × "
    return (f"every row of another method given {scale}the training FLOPs of `{budget.flops_of}` "
            f"({ABLATIONS[budget.flops_of].label}), rows of its method their own epochs (--epochs={budget.epochs})")


def summary_line(budget, counts, minutes):
    import keras

    recipe = []
    if budget.finetune_crop_scale_min:
        recipe.append(f"random resized crop (area ≥ {budget.finetune_crop_scale_min:g}) + flip")
    if budget.finetune_mixing:
        recipe.append("MixUp {:g} / CutMix {:g}".format(*budget.finetune_mixing_alphas()))
    command = "python benchmarks/fashion_mnist.py " + " ".join(sys.argv[1:])
    return (
        f"{time.strftime('%Y-%m-%d')}, `{command.strip()}`, KERAS_BACKEND={keras.backend.backend()}, "
        f"{machine()}, {minutes:.0f} min in all (finished runs and recorded scores are reused), "
        f"pretraining in {budget.mixed_precision} by the package's job. Seeds {list(budget.seeds)} (mean ± std). "
        f"Budget: {_budget_words(budget)} of {counts['train']} images at batch "
        f"{budget.batch_size}; ViT {budget.encoder_dim}×{budget.encoder_depth}, patch {budget.patch_size}; "
        f"features: {budget.pooling} pooling; kNN/probe references: first {budget.eval_train_examples} "
        f"training images; fine-tune: {budget.finetune_epochs} epoch(s) on the first {budget.finetune_examples}"
        f"{' with ' + ' and '.join(recipe) if recipe else ''}; test: {counts['test']} test images; "
        f"pretraining minutes: the mean over seeds when it ran."
    )


def main(argv):
    del argv
    if FLAGS.from_results:
        return report_saved(FLAGS.from_results, FLAGS.output_dir, FLAGS.baseline)
    try:
        budget = from_flags(Budget)  # every setting checked before any work
    except ValueError as error:
        raise SystemExit(f"fashion_mnist.py: {error}") from None
    began = time.time()
    os.makedirs(budget.output_dir, exist_ok=True)
    print(f"Fashion-MNIST benchmark: {budget.epochs} pretraining epochs; rows {list(budget.configs)}; "
          f"seeds {list(budget.seeds)}", flush=True)
    results, counts = run(budget)
    table = accuracy_table(results, budget.knn_k)
    summary = summary_line(budget, counts, (time.time() - began) / 60)
    run_flags = {**FLAGS.flag_values_dict(), "package_version": keras_dsmae.__version__}
    report(summary, table, results, run_flags, budget.output_dir, budget.baseline)


if __name__ == "__main__":
    app.run(main)
