"""A method's margin over a baseline across mask ratios, from saved runs.

Reads several `results.json` files written by `benchmarks/fashion_mnist.py`
(one per `--mask_ratio`, each with both configs), prints a Markdown table
of both configs' kNN / linear accuracy and the paired-by-seed margin at
each masked fraction, and plots them (`mask_ratio_sweep.png`): accuracies
on the left, the margin with the issue-13 goal line (+1.0) on the right.
No evaluation is run.

The masked fraction is the one the model really used: since 0.3 the
visible count is the reference MAE's `K = int(N·(1 − mask_ratio))`
(`--mask_ratio=0.6` on 16 patches masks 10 of them, 0.625); results saved
by 0.2, whose flags record no `package_version`, were rounded
(`round(N·(1 − mask_ratio))`: the same here, 10 of 16).

    python benchmarks/mask_ratio_sweep.py \\
        --results=runs/fm13/results.json,runs/fm13_m60/results.json,runs/fm13_m50/results.json,runs/fm13_m40/results.json \\
        --output=benchmarks/results/fashion_mnist_mask_ratio.png
"""

import json
import os

from absl import app, flags

from seed_statistics import mean_std, paired_difference  # this script's folder

flags.DEFINE_list("results", [], "results.json files of benchmarks/fashion_mnist.py, one per mask ratio.")
flags.DEFINE_string("config", "dsmae_combo", "The method whose margin is plotted.")
flags.DEFINE_string("baseline", "mae", "What the margin is measured against (paired by seed).")
flags.DEFINE_float("goal", 1.0, "Margin drawn as the goal line, in points.")
flags.DEFINE_string("output", "mask_ratio_sweep.png", "Where the picture goes.")
FLAGS = flags.FLAGS

METRICS = (("knn", "kNN"), ("linear", "linear probe"))


def masked_fraction(saved_flags):
    """The fraction of patches the model masked, from a run's saved flags
    (28×28 Fashion-MNIST images), counted as that run's masking counted."""
    from keras_dsmae.layers.masking import RELEASE_0_2_ROUNDING, num_visible_patches

    num_patches = (28 // saved_flags["patch_size"]) ** 2
    rounding = "floor" if "package_version" in saved_flags else RELEASE_0_2_ROUNDING
    return 1.0 - num_visible_patches(num_patches, saved_flags["mask_ratio"], rounding) / num_patches


def load_point(path):
    """`(masked fraction, seeds, {config: runs})` of one results.json.

    Raises:
        ValueError: the file lacks `--config` or `--baseline`.
    """
    with open(path) as f:
        saved = json.load(f)
    results = saved["results"]
    for name, flag in ((FLAGS.config, "--config"), (FLAGS.baseline, "--baseline")):
        if name not in results:
            raise ValueError(f"{flag}={name!r} is not in {path}; it has {sorted(results)}")
    runs = {name: results[name]["runs"] for name in (FLAGS.config, FLAGS.baseline)}
    seeds = sorted(run["seed"] for run in runs[FLAGS.config])
    return masked_fraction(saved["flags"]), seeds, runs


def table(points):
    header = ["masked", "seeds"] + [f"{n} {label}" for n in (FLAGS.baseline, FLAGS.config)
                                    for _, label in METRICS] + [f"margin {label}" for _, label in METRICS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for fraction, seeds, runs in points:
        spread = " ± {:.1f}" if len(seeds) > 1 else ""  # no std of one seed
        cells = [f"{fraction:.3f}", ",".join(map(str, seeds))]
        for name in (FLAGS.baseline, FLAGS.config):
            cells += [("{:.1f}" + spread).format(*mean_std(runs[name], m)) for m, _ in METRICS]
        cells += [("{:+.1f}" + spread).format(*paired_difference(runs[FLAGS.config], runs[FLAGS.baseline], m))
                  for m, _ in METRICS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(points, path):
    from keras_dsmae.utils.pyplot import pyplot, save_figure

    plt = pyplot()
    x = [fraction for fraction, _, _ in points]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6))
    for (metric, label), marker in zip(METRICS, "os"):
        for name, style, colour in ((FLAGS.baseline, "--", "C0"), (FLAGS.config, "-", "C3")):
            stats = [mean_std(runs[name], metric) for _, _, runs in points]
            left.errorbar(x, [m for m, _ in stats], yerr=[s for _, s in stats], fmt=marker + style,
                          color=colour, capsize=3, label=f"{name}, {label}")
        margins = [paired_difference(runs[FLAGS.config], runs[FLAGS.baseline], metric)
                   for _, _, runs in points]
        right.errorbar(x, [m for m, _ in margins], yerr=[s for _, s in margins], fmt=marker + "-",
                       capsize=3, label=label)
    for fraction, seeds, _ in points:
        right.annotate(f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''}", (fraction, 0.0),
                       textcoords="offset points", xytext=(0, -12), ha="center", fontsize=7)
    right.axhline(FLAGS.goal, color="grey", linestyle=":", label=f"goal (+{FLAGS.goal:g})")
    right.axhline(0.0, color="black", linewidth=0.8)
    left.set_ylabel("test accuracy (%), mean ± std over seeds")
    right.set_ylabel(f"{FLAGS.config} − {FLAGS.baseline} (points),\npaired by seed, mean ± std")
    for axis in (left, right):
        axis.set_xlabel("masked fraction of the patches")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    figure.tight_layout()
    save_figure(figure, path, dpi=90, bbox_inches="tight")


def main(argv):
    del argv
    if not FLAGS.results:
        raise SystemExit("--results: give one or more results.json files")
    missing = [p for p in FLAGS.results if not os.path.isfile(p)]
    if missing:
        raise SystemExit(f"--results: no such file {missing}")
    try:
        points = sorted((load_point(path) for path in FLAGS.results), key=lambda point: point[0])
    except ValueError as error:
        raise SystemExit(str(error))
    print(table(points))
    plot(points, FLAGS.output)
    print(f"wrote {FLAGS.output}")


if __name__ == "__main__":
    app.run(main)
