"""`fit` that continues a run at the exact step its newest checkpoint
saved, also within an epoch."""

import keras

from keras_dsmae.callbacks.run_checkpoint import RunCheckpoint
from keras_dsmae.utils.distribution import variable_creation_scope


def fit_resumable(model, stream, *, epochs, callbacks, verbose="auto"):
    """Fit `model` on `stream` up to `epochs`, from where the `RunCheckpoint`
    in `callbacks` last saved.

    A run killed mid-epoch resumes at the step after its checkpoint: the
    rest of that epoch is one `fit` (its logged means continue the saved
    ones), the epochs after it a second `fit`; the stream yields exactly
    the batches the interrupted run would have read next.

    Args:
        model: a compiled model (a `DSMAE`).
        stream: the `keras_dsmae.data.epoch_stream.EpochStream` to train on
            (with its `device_input`, when the model finishes the batches).
        epochs: total epochs of the run.
        callbacks: the callbacks of `fit`, one of them a `RunCheckpoint`.
        verbose: passed to `fit`.

    Returns:
        a `keras.callbacks.History` of every epoch this call trained.
    """
    checkpoint = next((c for c in callbacks if isinstance(c, RunCheckpoint)), None)
    if checkpoint is None:
        raise ValueError("`callbacks` must hold a RunCheckpoint: fit_resumable resumes from it.")
    data = stream.dataset()
    device_input = getattr(stream, "device_input", None)
    checkpoint.set_model(model)
    with variable_creation_scope(model):  # the optimizer's variables are made here (tf.distribute: mirrored)
        if device_input is not None:
            data.device_input = device_input
            model.use_device_input(device_input)  # before the restore: its random stream is saved too
        epoch, step = checkpoint.restore()
    checkpoint.restore_on_train_begin = False
    model._initial_epoch = None  # each fit below says where it starts
    steps = stream.steps_per_epoch
    histories = []
    try:
        if step and epoch < epochs:  # the rest of the interrupted epoch
            stream.start_at(epoch, step)
            histories.append(model.fit(data, initial_epoch=epoch, epochs=epoch + 1,
                                       steps_per_epoch=steps - step, callbacks=callbacks, verbose=verbose))
            epoch += 1
        if epoch < epochs and not (histories and (model.stop_training or checkpoint.diverged)):
            stream.start_at(epoch, 0)
            histories.append(model.fit(data, initial_epoch=epoch, epochs=epochs, steps_per_epoch=steps,
                                       callbacks=callbacks, verbose=verbose))
    finally:
        checkpoint.restore_on_train_begin = True
    return _joined(histories, model)


def _joined(histories, model):
    joined = keras.callbacks.History()
    joined.set_model(model)
    joined.epoch = []
    for history in histories:
        joined.epoch += history.epoch
        for key, values in history.history.items():
            joined.history.setdefault(key, []).extend(values)
    return joined
