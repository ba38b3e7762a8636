"""Labelled reference and query sets for kNN evaluation on a TFDS data set."""

from keras_dsmae.data.catalog import get_spec
from keras_dsmae.data.tfds_source import labelled_dataset
from keras_dsmae.utils import validation


def knn_datasets(dataset, *, reference_examples=5000, query_examples=2000, query_split="test",
                 data_dir=None, use_synthetic_data=False, seed=0, image_size=None):
    """Labelled `(references, queries)` datasets for kNN evaluation on a
    supported TFDS data set.

    References are the first `reference_examples` training images; queries
    the first `query_examples` of the test split (`query_split="test"`), or
    the last `query_examples` training images (`query_split="holdout"`, for
    hyper-parameter search, which must not look at the test set). Images
    are resized to `image_size` when given (an encoder of another size).
    """
    validation.check_choice("query_split", query_split, ("test", "holdout"))
    validation.check_int("reference_examples", reference_examples, minimum=1)
    validation.check_int("query_examples", query_examples, minimum=1)
    spec = get_spec(dataset)
    query_source = (f"{spec.train_split}[-{query_examples}:]" if query_split == "holdout"
                    else f"{spec.test_split}[:{query_examples}]")
    common = dict(data_dir=data_dir, use_synthetic_data=use_synthetic_data, image_size=image_size)
    references = labelled_dataset(
        dataset, f"{spec.train_split}[:{reference_examples}]",
        synthetic_examples=reference_examples, seed=seed + 1, **common)
    queries = labelled_dataset(
        dataset, query_source, synthetic_examples=query_examples, seed=seed + 2, **common)
    return references, queries
