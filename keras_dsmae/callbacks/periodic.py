"""When an every-N-epochs callback acts."""


def due_this_epoch(epoch, every_n_epochs, total_epochs):
    """True after every `every_n_epochs`-th epoch and after the last one.

    Args:
        epoch: 0-based epoch that just ended.
        every_n_epochs: interval (≥ 1).
        total_epochs: the run's epochs (`Callback.params["epochs"]`), or None.
    """
    return (epoch + 1) % every_n_epochs == 0 or epoch + 1 == total_epochs
