"""matplotlib without a display, for every picture the package writes."""

import os

from keras_dsmae.utils.atomic_write import atomic_path


def pyplot():
    """`matplotlib.pyplot` on the file-only Agg backend (works on servers
    and in CI, where no display exists)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, path, **savefig_options):
    """Write `figure` to `path` atomically (its format from the suffix),
    then close it; `savefig_options` go to `Figure.savefig` (e.g. `dpi`)."""
    with atomic_path(path) as partial:
        figure.savefig(partial, format=os.path.splitext(path)[1][1:] or None, **savefig_options)
    pyplot().close(figure)
