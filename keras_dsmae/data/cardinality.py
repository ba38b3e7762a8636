"""How many steps make one epoch of a tf.data pipeline."""


def batches_per_epoch(dataset, steps_per_epoch=None, fallback=None):
    """Batches in one pass over `dataset`, capped at `steps_per_epoch`.

    Args:
        dataset: a batched `tf.data.Dataset`.
        steps_per_epoch: optional cap (an int >= 1).
        fallback: batches of one pass when tf.data cannot count them (after
            `repeat()` or a filter), e.g. examples // batch size.

    Returns:
        an int, or `steps_per_epoch` (possibly None) when neither the
        dataset nor `fallback` knows the length of a pass.
    """
    cardinality = int(dataset.cardinality())
    one_pass = cardinality if cardinality > 0 else fallback
    if one_pass is None:
        return steps_per_epoch
    return min(steps_per_epoch or one_pass, one_pass)
