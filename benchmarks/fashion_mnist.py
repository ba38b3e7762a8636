"""Representation quality on real images: Fashion-MNIST (28×28×1).

Pretrains, at equal budget (same model, epochs, batch and optimizer),
plain MAE and DSD-MAE (and any row of `quality/ablations.json`) with the
package's own job (`keras_dsmae.training.run_pretraining`), and compares
them with the same ViT left at random initialisation and with the raw
pixels: kNN, linear-probe and fine-tuning accuracy on the official test
set, through `keras_dsmae.evaluation`, for each of `--seeds` (mean ± std
across seeds). Prints a Markdown table and writes `results.json`,
`curves.png` (pretraining losses) and `accuracy.png`.

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
    `{"seed", "trace", "minutes", "scores"}`."""
    teacher, trace, minutes = None, [], 0.0
    if ablation.encoder == PIXELS:
        encoder = pixels_model()
    elif not ablation.pretrained:
        encoder = random_encoder(budget, ablation, seed)
    else:
        encoder, teacher, trace, minutes, trained = pretrained(budget, ablation, seed, train_file, normalization)
        if trained:
            forget_scores(budget, ablation, seed)  # they scored the encoder this one replaces
    scores = cached_scores(budget, ablation, seed, "student", lambda: evaluate(
        budget, encoder, arrays, normalization, seed, finetune=ablation.encoder != PIXELS))
    student = dict(seed=seed, trace=trace, minutes=minutes, scores=scores)
    if teacher is None or not budget.evaluate_teacher:
        return student, None
    print("  teacher:", flush=True)
    teacher_scores = cached_scores(budget, ablation, seed, "teacher", lambda: evaluate(
        budget, teacher, arrays, normalization, seed, finetune=False))
    return student, dict(seed=seed, trace=[], minutes=minutes, scores=teacher_scores)


def run(budget):
    """Every row at every seed: `{row: {"label", "runs", "pretrained"}}`
    (teacher rows as `<row>:teacher`), and the data's `{split: image count}`."""
    arrays = load_fashion_mnist(budget.data_dir, budget.train_examples, budget.test_examples)
    train_file = training_file(arrays["train_images"], os.path.join(budget.output_dir, "data"))
    normalization = normalization_of(arrays["train_images"])
    results = {}
    for name in budget.configs:
        ablation = ABLATIONS[name]
        epochs = budget.epochs_of(ablation) if ablation.pretrained else 0
        label = ablation.label + (f" ({epochs} epochs)" if ablation.pretrained and epochs != budget.epochs else "")
        results[name] = dict(label=label, runs=[], pretrained=ablation.pretrained)
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
        f"Budget: {budget.epochs} pretraining epochs of {counts['train']} images at batch "
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
