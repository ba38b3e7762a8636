"""Online kNN accuracy during pretraining."""

import keras

from keras_dsmae.callbacks.periodic import due_this_epoch
from keras_dsmae.data.knn_datasets import knn_datasets
from keras_dsmae.evaluation.knn import knn_accuracy
from keras_dsmae.utils import validation
from keras_dsmae.utils.callback_order import ADDS_LOGS


class KNNMonitor(keras.callbacks.Callback):
    """Log `val_knn_accuracy` (weighted kNN on the student encoder's
    features) into the epoch logs every `every_n_epochs` epochs, so that
    History, CSV logs, TensorBoard and KerasTuner objectives see it.

    Args:
        train_data: labelled reference data: `(images, labels)` arrays or a
            labelled `tf.data.Dataset` (a few thousand images is plenty).
        val_data: labelled query data, same forms.
        k, temperature: see `keras_dsmae.evaluation.knn_accuracy`.
        every_n_epochs: interval (≥ 1); the last epoch is always evaluated.
        batch_size: images per encoder pass.
    """

    epoch_end_stage = ADDS_LOGS

    def __init__(self, train_data, val_data, k=20, temperature=0.07, every_n_epochs=1, batch_size=256):
        super().__init__()
        validation.check_int("k", k, minimum=1)
        validation.check_float("temperature", temperature, 0.0, low_open=True)
        validation.check_int("every_n_epochs", every_n_epochs, minimum=1)
        self.train_data = train_data
        self.val_data = val_data
        self.k = k
        self.temperature = temperature
        self.every_n_epochs = every_n_epochs
        self.batch_size = batch_size

    @classmethod
    def for_dataset(cls, dataset, *, reference_examples=5000, query_examples=2000, query_split="test",
                    data_dir=None, use_synthetic_data=False, seed=0, image_size=None, **kwargs):
        """A monitor on a supported TFDS data set (see `knn_datasets`), its
        images resized to `image_size` (default: their own); `kwargs` go to
        the constructor (`k`, `every_n_epochs`, ...)."""
        references, queries = knn_datasets(
            dataset, reference_examples=reference_examples, query_examples=query_examples,
            query_split=query_split, data_dir=data_dir, use_synthetic_data=use_synthetic_data, seed=seed,
            image_size=image_size,
        )
        return cls(references, queries, **kwargs)

    def on_epoch_end(self, epoch, logs=None):
        if not due_this_epoch(epoch, self.every_n_epochs, self.params.get("epochs")):
            return
        encoder = getattr(self.model, "encoder", self.model)
        accuracy = knn_accuracy(
            encoder, self.train_data, self.val_data, k=self.k,
            temperature=self.temperature, batch_size=self.batch_size,
        )
        if logs is not None:
            logs["val_knn_accuracy"] = accuracy

