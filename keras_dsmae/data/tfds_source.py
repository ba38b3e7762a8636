"""TFDS data sets (CIFAR-10, CIFAR-100, STL-10) through the shared pipeline."""

from keras_dsmae.data import synthetic
from keras_dsmae.data.catalog import get_spec
from keras_dsmae.data.normalization import Normalization
from keras_dsmae.data.pipeline import build_pipeline


def load_tfds_split(name, split, data_dir=None, *, as_supervised=True, **load_kwargs):
    """`tf.data.Dataset` of `(uint8 image, label)` from TFDS (of feature
    dicts when `as_supervised=False`); `load_kwargs` go to `tfds.load`
    (e.g. `shuffle_files`, `read_config`).

    Downloads the data set on first use unless `data_dir` already holds it.
    Raises `RuntimeError` that says what failed: a broken install (a module
    TFDS imports is missing) or the data set being neither in `data_dir` nor
    downloadable (then how to proceed offline).
    """
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
        if not builder.is_prepared():
            print(
                f"TFDS data set {name!r} is not prepared in {builder.data_dir}; "
                f"downloading it (offline this fails after TFDS' retries: see "
                f"--data_dir).",
                flush=True,
            )
        load_kwargs.setdefault("shuffle_files", False)
        return tfds.load(name, split=split, data_dir=data_dir, as_supervised=as_supervised, **load_kwargs)
    except ImportError as error:  # ModuleNotFoundError too: an install problem
        module = getattr(error, "name", None) or str(error)
        raise RuntimeError(
            f"Could not load TFDS data set {name!r}: tensorflow-datasets needs the "
            f"Python module {module!r}, which is not installed ({type(error).__name__}: "
            f"{error}). This is an installation problem, not a data problem: "
            f"`pip install {module}` (or reinstall keras-dsmae, which depends on it)."
        ) from error
    except Exception as error:  # TFDS raises many types for network/disk errors
        raise RuntimeError(
            f"Could not load TFDS data set {name!r} (split {split!r}) from "
            f"data_dir={data_dir!r}: {type(error).__name__}: {error}\n"
            f"If the data set is not prepared there, TFDS tries to download it. "
            f"Without internet access, prepare it on a machine that has access "
            f"(`tfds build {name}` or `tfds.load('{name}')`), copy its TFDS data "
            f"directory here and pass it with --data_dir / data_dir=; or run on "
            f"generated data with --use_synthetic_data."
        ) from error


def read_config(seed=None, shard=None):
    """`tfds.ReadConfig` with a file-shuffle seed (one file order for every
    pass: the training pipeline shuffles the examples of each pass from its
    own key, so that a resumed run can continue the order), and, for
    `shard=(count, index)`, this process's share of the data set's files
    (TFDS shards before decoding)."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    context = None
    if shard is not None:
        count, index = shard
        context = tf.distribute.InputContext(num_input_pipelines=count, input_pipeline_id=index)
    return tfds.ReadConfig(shuffle_seed=seed, shuffle_reshuffle_each_iteration=False, input_context=context)


def _source(spec, split, data_dir, use_synthetic_data, synthetic_examples, seed, shard=None):
    if use_synthetic_data:
        source = synthetic.synthetic_source(spec, synthetic_examples, seed=seed)
        if shard is None:
            return source, synthetic_examples
        count, index = shard
        return source.shard(count, index), len(range(index, synthetic_examples, count))
    kwargs = {"read_config": read_config(seed, shard)} if shard is not None else {}
    return load_tfds_split(spec.name, split, data_dir, **kwargs), None


def pretraining_dataset(
    dataset,
    batch_size=256,
    *,
    data_dir=None,
    crop_scale=(0.2, 1.0),
    seed=None,
    cache="auto",
    use_synthetic_data=False,
    synthetic_examples=1024,
    image_size=None,
    num_channels=None,
    shard=None,
    normalization=None,
    augment_on="host",
):
    """Shuffled, augmented, normalised image batches for pretraining.

    Args:
        dataset: "cifar10", "cifar100" or "stl10" (STL-10 uses its
            `unlabelled` and `train` splits).
        batch_size: images per batch (the last partial batch is dropped).
        data_dir: TFDS data directory (prepared data, offline use).
        crop_scale: area range of the random resized crop.
        seed: reproducible order and augmentation.
        cache: True, False or "auto".
        use_synthetic_data: generated images of the same size and format.
        synthetic_examples: how many generated images.
        image_size: `(H, W)` crops to produce; default: the data set's size.
        num_channels: 1 or 3; default: the data set's.
        shard: `(count, index)`: this process's share of the files (one
            share per process of a multi-host run).
        normalization: a `Normalization`; default: the data set's own.
        augment_on: "host", "device" or "auto" (see `data.device_feed`).

    Returns:
        `tf.data.Dataset` of `(B, H, W, C)` float32 normalised images (on
        the device: see `build_pipeline`).
    """
    spec = get_spec(dataset)
    known = spec.num_pretrain_examples // (shard[0] if shard else 1)
    return _pipeline(
        spec, spec.pretrain_split, batch_size, training=True, with_labels=False,
        data_dir=data_dir, crop_scale=crop_scale, seed=seed, cache=cache,
        use_synthetic_data=use_synthetic_data, synthetic_examples=synthetic_examples,
        known_examples=known, image_size=image_size, num_channels=num_channels, shard=shard,
        normalization=normalization, augment_on=augment_on,
    )


def labelled_dataset(
    dataset,
    split="train",
    batch_size=256,
    *,
    data_dir=None,
    cache="auto",
    use_synthetic_data=False,
    synthetic_examples=512,
    seed=None,
    training=False,
    crop_scale=(0.2, 1.0),
    image_size=None,
    num_channels=None,
    normalization=None,
):
    """`(images, labels)` batches: un-augmented in a fixed order for
    evaluation (kNN, linear probe, test sets), or with `training=True`
    shuffled, augmented (random resized crop + flip) and without the last
    partial batch, for fine-tuning.

    Args:
        dataset: "cifar10", "cifar100" or "stl10".
        split: any TFDS split expression, e.g. "train", "test", "train[:10%]".
        training: shuffle + augment (see above).
        crop_scale: crop area range when `training`.
        image_size, num_channels: what to produce; default: the data set's.
        normalization: a `Normalization`; default: the data set's own.
    """
    return _pipeline(
        get_spec(dataset), split, batch_size, training=training, with_labels=True,
        data_dir=data_dir, crop_scale=crop_scale, seed=seed, cache=cache,
        use_synthetic_data=use_synthetic_data, synthetic_examples=synthetic_examples,
        image_size=image_size, num_channels=num_channels, normalization=normalization,
    )


def _pipeline(spec, split, batch_size, *, training, with_labels, data_dir, crop_scale, seed,
              cache, use_synthetic_data, synthetic_examples, known_examples=None,
              image_size=None, num_channels=None, shard=None, normalization=None, augment_on="host"):
    """`build_pipeline` on `split` of the data set `spec` (TFDS or generated);
    `known_examples` stands for the split's size (for caching and the batch
    size check) when TFDS does not say it."""
    source, count = _source(spec, split, data_dir, use_synthetic_data, synthetic_examples, seed, shard)
    num_channels = num_channels or spec.num_channels
    return build_pipeline(
        source,
        image_size=image_size or spec.image_size,
        num_channels=num_channels,
        normalization=normalization or normalization_for(spec.name, num_channels),
        batch_size=batch_size,
        training=training,
        with_labels=with_labels,
        crop_scale=crop_scale,
        seed=seed,
        cache=cache,
        num_examples=count if count is not None else known_examples,
        augment_on=augment_on,
        exact_num_examples=count is not None,  # generated; TFDS' own counts may not match (mock data)
    )


def normalization_for(dataset, num_channels=None):
    """The `Normalization` (mean/std) of a supported data set, for its own
    channels or `num_channels` (1: the channel averages, for grayscale)."""
    spec = get_spec(dataset)
    if num_channels in (None, spec.num_channels):
        return Normalization(spec.mean, spec.std)
    if num_channels == 1:
        return Normalization((sum(spec.mean) / len(spec.mean),), (sum(spec.std) / len(spec.std),))
    return Normalization((spec.mean[0],) * num_channels, (spec.std[0],) * num_channels)
