"""matplotlib without a display, for every picture the package writes."""


def pyplot():
    """`matplotlib.pyplot` on the file-only Agg backend (works on servers
    and in CI, where no display exists)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
