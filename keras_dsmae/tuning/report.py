"""Reading a finished (or running) search: trial table and objective plots."""

from keras_dsmae.tuning.hypermodel import DEFAULT_RANGES, OBJECTIVE
from keras_dsmae.utils.pyplot import pyplot, save_figure


def tuned_names(rows):
    """The hyperparameters in `trial_rows`: the default ones, then any other
    knob a search's `ranges` added."""
    return [key for key in rows[0] if key not in ("trial", "status", OBJECTIVE.name)] if rows else list(DEFAULT_RANGES)


def trial_rows(tuner):
    """One dict per trial (best first): id, status, hyperparameters, score."""
    rows = []
    trials = list(tuner.oracle.trials.values())
    extra = sorted({name for t in trials for name in t.hyperparameters.values} - set(DEFAULT_RANGES))
    for trial in trials:
        row = {"trial": trial.trial_id, "status": trial.status}
        row.update({name: trial.hyperparameters.values.get(name) for name in [*DEFAULT_RANGES, *extra]})
        row[OBJECTIVE.name] = trial.score
        rows.append(row)
    return sorted(rows, key=lambda r: (r[OBJECTIVE.name] is None, -(r[OBJECTIVE.name] or 0.0)))


def format_trial_table(rows):
    """Fixed-width text table of `trial_rows`."""
    columns = ["trial", "status", *tuned_names(rows), OBJECTIVE.name]
    widths = [max(len(c), 9) for c in columns]

    def cell(value, width):
        if isinstance(value, float):
            return f"{value:>{width}.4f}"
        return f"{'-' if value is None else value!s:>{width}}"

    lines = ["  ".join(f"{c:>{w}}" for c, w in zip(columns, widths))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(cell(row.get(c), w) for c, w in zip(columns, widths)))
    return "\n".join(lines)


def plot_objective(rows, path):
    """Scatter of the objective against each tuned hyperparameter → PNG."""
    plt = pyplot()
    scored = [r for r in rows if r[OBJECTIVE.name] is not None]
    names = tuned_names(rows)
    figure, axes = plt.subplots(1, len(names), figsize=(3.4 * len(names), 3), squeeze=False)
    for axis, name in zip(axes[0], names):
        axis.scatter([r[name] for r in scored], [r[OBJECTIVE.name] for r in scored])
        axis.set_xlabel(name)
        axis.set_ylabel(OBJECTIVE.name)
        axis.grid(alpha=0.3)
    figure.suptitle(f"{len(scored)} scored trials")
    figure.tight_layout()
    save_figure(figure, path, dpi=90)
