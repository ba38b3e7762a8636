"""The benchmark's tables (Markdown), `results.json` and its two plots."""

import json
import os
import textwrap

import keras
import numpy as np
from seed_statistics import mean_std, paired_difference

from keras_dsmae.utils.atomic_write import write_json
from keras_dsmae.utils.pyplot import pyplot, save_figure

METRICS = ("knn", "linear", "finetune")
METRIC_NAMES = {"knn": "kNN", "linear": "linear-probe", "finetune": "fine-tune"}


def machine():
    """`"<n> CPU cores"`, plus the accelerator the backend computes on, if any."""
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


def _mean_of(runs, key):
    """The mean over seeds of a run's `key` (0 where a run older than it lacks it)."""
    return sum(run.get(key, 0.0) for run in runs) / len(runs)


def accuracy_table(results, knn_k):
    """Markdown table: each row's mean ± std accuracies, pretraining minutes
    and analytic training FLOPs (in TFLOP, 10^12)."""
    lines = [f"| model | kNN (k={knn_k}) | linear probe | fine-tune | pretraining (min) | pretraining TFLOP |",
             "|---|---|---|---|---|---|"]
    for r in results.values():
        runs = r["runs"]
        minutes = f"{_mean_of(runs, 'minutes'):.1f}" if r["pretrained"] else "—"
        flops = f"{_mean_of(runs, 'flops') / 1e12:.3g}" if r["pretrained"] and _mean_of(runs, "flops") else "—"
        lines.append(f"| {r['label']} | " + " | ".join(cell(runs, m) for m in METRICS) + f" | {minutes} | {flops} |")
    return "\n".join(lines)


def difference_table(results, baseline):
    """Markdown table: each row's accuracy minus `baseline`'s, paired by seed."""
    lines = [f"| model (minus {results[baseline]['label']}, same seed) | kNN | linear probe | fine-tune |",
             "|---|---|---|---|"]
    for name, r in results.items():
        if name == baseline:
            continue
        cells = []
        for metric in METRICS:
            stats = paired_difference(r["runs"], results[baseline]["runs"], metric)
            cells.append("—" if stats is None else f"{stats[0]:+.1f}" + (
                f" ± {stats[1]:.1f}" if len(r["runs"]) > 1 else ""))
        lines.append(f"| {r['label']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _plot_curves(plt, results, colour, path):
    traced = {name: r for name, r in results.items() if r["runs"][0]["trace"]}
    if not traced:
        return
    figure, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    for axis, key in zip(axes, ("pixel_loss", "feature_loss", "target_std")):
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
    save_figure(figure, path, dpi=90, bbox_inches="tight")


def _plot_accuracy(plt, results, colour, path):
    figure, axis = plt.subplots(figsize=(11, 3.8))
    width, heights = 0.8 / len(results), []
    for i, (name, r) in enumerate(results.items()):
        stats = [mean_std(r["runs"], m) or (np.nan, 0.0) for m in METRICS]
        heights += [mean for mean, _ in stats if not np.isnan(mean)]
        positions = [m + i * width for m in range(len(METRICS))]
        bars = axis.bar(positions, [mean for mean, _ in stats], width, yerr=[std for _, std in stats],
                        label=textwrap.fill(r["label"], 48), capsize=2, color=colour[name])
        axis.bar_label(bars, fmt="%.1f", fontsize=6, rotation=90, padding=2)
    axis.set_xticks([m + width * (len(results) - 1) / 2 for m in range(len(METRICS))])
    axis.set_xticklabels(["kNN", "linear probe", "fine-tune"])
    axis.set_ylabel("test accuracy (%),\nmean ± std over seeds")
    axis.set_ylim(max(0, 5 * np.floor(min(heights, default=50) / 5) - 5),
                  min(100, max(heights, default=96) + 4))  # close to the bars, so differences show
    axis.grid(axis="y", alpha=0.3)
    axis.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    save_figure(figure, path, dpi=90, bbox_inches="tight")


def _plot_compute(plt, results, colour, path):
    """Accuracy (kNN, linear probe) against pretraining FLOPs and minutes:
    a point per pretrained row (mean ± std over seeds); rows of the same
    method (same overrides) at other budgets joined by a line; the rows
    without pretraining as dotted levels."""
    pretrained = {name: r for name, r in results.items()
                  if r["pretrained"] and ":" not in name and _mean_of(r["runs"], "flops")}
    if not pretrained:
        return
    figure, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    scales = (("flops", 1e12, "pretraining TFLOP (analytic)"), ("minutes", 1.0, "pretraining minutes"))
    for row, (key, unit, axis_label) in enumerate(scales):
        for column, metric in enumerate(METRICS[:2]):
            axis = axes[row][column]
            methods = {}  # same overrides → one method, in one colour (its first row's)
            for name, r in pretrained.items():
                stats = mean_std(r["runs"], metric)
                if stats is None:
                    continue
                x = _mean_of(r["runs"], key) / unit
                axis.errorbar([x], [stats[0]], yerr=[stats[1]], fmt="o", color=colour[name], capsize=3,
                              label=textwrap.fill(r["label"], 50))
                method = methods.setdefault(json.dumps(r.get("overrides"), sort_keys=True), (colour[name], []))
                method[1].append((x, stats[0]))
            for line_colour, points in methods.values():
                if len(points) > 1:
                    axis.plot(*zip(*sorted(points)), color=line_colour, alpha=0.6)
            for name, r in results.items():
                stats = mean_std(r["runs"], metric)
                if not r["pretrained"] and stats is not None:
                    axis.axhline(stats[0], linestyle=":", color=colour[name], label=r["label"])
            axis.set_xlabel(axis_label)
            axis.set_ylabel(f"{METRIC_NAMES[metric]} test accuracy (%)")
            axis.grid(alpha=0.3)
    figure.tight_layout()
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, fontsize=7)
    save_figure(figure, path, dpi=90, bbox_inches="tight")


def plot(results, output_dir):
    """`curves.png` (pretraining losses, first seed), `accuracy.png` and
    `compute.png` (accuracy against pretraining FLOPs and minutes), one
    colour per row."""
    plt = pyplot()
    palette = plt.get_cmap("tab10" if len(results) <= 10 else "tab20")
    colour = {name: palette(i % palette.N) for i, name in enumerate(results)}
    _plot_curves(plt, results, colour, os.path.join(output_dir, "curves.png"))
    _plot_accuracy(plt, results, colour, os.path.join(output_dir, "accuracy.png"))
    _plot_compute(plt, results, colour, os.path.join(output_dir, "compute.png"))


def report(summary, table, results, run_flags, output_dir, baseline=""):
    """Print the tables (and the differences from `baseline`), write
    `results.json` (with `run_flags`, the settings of the run that
    evaluated) and the two plots into `output_dir`."""
    differences = difference_table(results, baseline) if baseline else ""
    print("\n" + summary + "\n\n" + table + ("\n\n" + differences if differences else ""))
    os.makedirs(output_dir, exist_ok=True)
    write_json(os.path.join(output_dir, "results.json"),
               {"summary": summary, "table": table, "differences": differences, "flags": run_flags,
                "results": results}, indent=1, default=str)
    plot(results, output_dir)
    print(f"\nwrote {output_dir}/results.json, curves.png, accuracy.png, compute.png")


def report_saved(path, output_dir, baseline=""):
    """`report` again from a saved `results.json` (no evaluation): other
    plots, or differences from another `baseline`."""
    with open(path) as file:
        saved = json.load(file)
    if baseline and baseline not in saved["results"]:
        raise SystemExit(f"--baseline must be one of the saved rows {sorted(saved['results'])}; got {baseline!r}")
    report(saved["summary"], saved["table"], saved["results"], saved["flags"], output_dir, baseline)
