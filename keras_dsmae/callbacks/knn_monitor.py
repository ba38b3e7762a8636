"""Online kNN accuracy during pretraining."""

import keras

from keras_dsmae.evaluation.knn import knn_accuracy
from keras_dsmae.callbacks.periodic import due_this_epoch
from keras_dsmae.utils import validation


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
                    data_dir=None, use_synthetic_data=False, seed=0, **kwargs):
        """A monitor on a supported TFDS data set (see `knn_datasets`);
        `kwargs` go to the constructor (`k`, `every_n_epochs`, ...)."""
        references, queries = knn_datasets(
            dataset, reference_examples=reference_examples, query_examples=query_examples,
            query_split=query_split, data_dir=data_dir, use_synthetic_data=use_synthetic_data, seed=seed,
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


def knn_datasets(dataset, *, reference_examples=5000, query_examples=2000, query_split="test",
                 data_dir=None, use_synthetic_data=False, seed=0):
    """Labelled `(references, queries)` datasets for kNN evaluation on a
    supported TFDS data set.

    References are the first `reference_examples` training images; queries
    the first `query_examples` of the test split (`query_split="test"`), or
    the last `query_examples` training images (`query_split="holdout"`, for
    hyper-parameter search, which must not look at the test set).
    """
    from keras_dsmae import data

    validation.check_choice("query_split", query_split, ("test", "holdout"))
    validation.check_int("reference_examples", reference_examples, minimum=1)
    validation.check_int("query_examples", query_examples, minimum=1)
    spec = data.get_spec(dataset)
    query_source = (f"{spec.train_split}[-{query_examples}:]" if query_split == "holdout"
                    else f"{spec.test_split}[:{query_examples}]")
    common = dict(data_dir=data_dir, use_synthetic_data=use_synthetic_data)
    references = data.labelled_dataset(
        dataset, f"{spec.train_split}[:{reference_examples}]",
        synthetic_examples=reference_examples, seed=seed + 1, **common)
    queries = data.labelled_dataset(
        dataset, query_source, synthetic_examples=query_examples, seed=seed + 2, **common)
    return references, queries
