"""What the package knows about each supported TFDS data set."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """Static facts about a data set.

    Attributes:
        name: TFDS name.
        image_size: `(H, W)` of the stored images.
        num_channels: `C`.
        num_classes: number of labels.
        mean, std: per-channel statistics of the training images in [0, 1]
            units, used for normalisation.
        pretrain_split: TFDS split(s) used for self-supervised pretraining.
        train_split, test_split: labelled splits for evaluation.
        default_preset: the DSMAE preset that matches the image size.
    """

    name: str
    image_size: tuple
    num_channels: int
    num_classes: int
    mean: tuple
    std: tuple
    pretrain_split: str
    train_split: str = "train"
    test_split: str = "test"
    default_preset: str = "dsmae_vit_tiny_cifar"
    num_pretrain_examples: int = 50_000


DATASETS = {
    "cifar10": DatasetSpec(
        "cifar10", (32, 32), 3, 10,
        mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616),
        pretrain_split="train",
    ),
    "cifar100": DatasetSpec(
        "cifar100", (32, 32), 3, 100,
        mean=(0.5071, 0.4865, 0.4409), std=(0.2673, 0.2564, 0.2762),
        pretrain_split="train",
    ),
    "stl10": DatasetSpec(
        "stl10", (96, 96), 3, 10,
        mean=(0.4467, 0.4398, 0.4066), std=(0.2603, 0.2566, 0.2713),
        pretrain_split="unlabelled+train",
        default_preset="dsmae_vit_tiny_stl10",
        num_pretrain_examples=105_000,
    ),
}


def get_spec(name):
    """The `DatasetSpec` of `name`, or a `ValueError` listing the choices."""
    if name not in DATASETS:
        raise ValueError(
            f"`dataset` must be one of {', '.join(map(repr, DATASETS))}; got "
            f"dataset={name!r}. For your own images use "
            f"keras_dsmae.data.from_arrays or from_image_folder."
        )
    return DATASETS[name]
