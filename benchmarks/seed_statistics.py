"""Statistics over the seeds of saved benchmark runs.

A run is `{"seed": int, "scores": {metric: accuracy in [0, 1] or None}, ...}`
as `benchmarks/fashion_mnist.py` saves it in `results.json`.
"""


def mean_std(runs, metric):
    """`(mean, std)` in percent of a metric over the seeds' runs (None if absent)."""
    import numpy as np

    values = [100 * run["scores"][metric] for run in runs if run["scores"].get(metric) is not None]
    if not values:
        return None
    return float(np.mean(values)), float(np.std(values))


def paired_difference(runs, baseline_runs, metric):
    """`(mean, std)` in points of `run − baseline run at the same seed` over
    the seeds where both have the metric (None if none). Pairing by seed
    removes what a seed does to both, which the unpaired stds include."""
    import numpy as np

    baseline = {run["seed"]: run["scores"].get(metric) for run in baseline_runs}
    differences = [100 * (run["scores"][metric] - baseline[run["seed"]]) for run in runs
                   if run["scores"].get(metric) is not None and baseline.get(run["seed"]) is not None]
    if not differences:
        return None
    return float(np.mean(differences)), float(np.std(differences))
