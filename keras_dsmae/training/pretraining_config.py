"""`PretrainingConfig`: every setting of the pretraining job, declared once.

Each field carries its help text, its check and its flag: the absl flags
of `keras-dsmae-pretrain` (and the data, model and distribution flags the
other commands share) are generated from it, a bad value is refused with a
`ValueError` naming the field when the config is made (before any work),
and its `recorded` fields go into `run_config.json`, where a resumed run
compares them.

    config = PretrainingConfig(dataset="cifar10", output_dir="runs/c10", epochs=200)
    keras_dsmae.training.run_pretraining(config)
"""

import dataclasses
import os

from keras_dsmae.data.catalog import DATASETS
from keras_dsmae.data.dataset_names import dataset_forms, parse_dataset
from keras_dsmae.data.decoded_files import ON_ERROR
from keras_dsmae.data.device_feed import AUGMENT_ON
from keras_dsmae.data.normalization import Normalization
from keras_dsmae.presets import PRESETS
from keras_dsmae.training.distribution import DISTRIBUTIONS
from keras_dsmae.training.precision import PRECISIONS
from keras_dsmae.utils import validation
from keras_dsmae.utils.settings import (
    at_least,
    check_fields,
    field_docs,
    in_range,
    is_bool,
    json_object,
    recorded_fields,
    setting,
)

JIT_COMPILE = ("auto", "true", "false")


def _dataset(name, value):
    parse_dataset(value)  # the form, and that a folder or file exists


def _vit_folder(name, value):
    if value is not None and not os.path.isfile(os.path.join(str(value), "config.json")):
        raise ValueError(f"`{name}` must be a Hugging Face ViT or ViTMAE folder (with config.json and "
                         f"its weights, as keras-dsmae-export writes one or facebook/vit-mae-* ship them); got "
                         f"{name}={value!r}.")


def _image_size(name, value):
    return None if value is None else validation.check_image_size(name, value)


def _normalization(name, value):
    if value is not None and not isinstance(value, Normalization):
        raise ValueError(
            f"`{name}` must be a keras_dsmae.data.Normalization(mean, std); got {name}={value!r}."
        )


def _json_dict(name, value):
    if value is not None and not isinstance(value, dict):
        raise ValueError(f"`{name}` must be a dict of DSMAE arguments or None; got {name}={value!r}.")
    return None if value is None else dict(value)


@dataclasses.dataclass(frozen=True)
class PretrainingConfig:
    """The settings of one pretraining run (see `run_pretraining`)."""

    dataset: str = setting(
        "cifar100", f"What to pretrain on: {dataset_forms()}.", flag="string", check=_dataset, recorded=True)
    output_dir: str = setting(
        None, "Run folder; default: runs/<dataset>_<preset>. A rerun into it resumes the run.",
        flag="string")
    preset: str = setting(
        None, "Model preset; default: the one for --image_size, else for the data's own size.",
        flag="enum", choices=tuple(sorted(PRESETS)))
    image_size: int = setting(
        None, "Image side the model takes (crops are resized to it); default: the preset's, else "
        "the data's own, else 224 for mixed sizes. Without --preset it picks one: 32, 96 or 224 "
        "have their own.", flag="integer", check=_image_size)
    epochs: int = setting(
        100, "Total epochs (a resumed run continues up to this).", flag="integer",
        check=at_least(1), recorded=True)
    steps_per_epoch: int = setting(
        None, "Cap on steps per epoch; default: one pass.", flag="integer",
        check=at_least(1, optional=True))
    batch_size: int = setting(
        256, "Images per step (the global batch, split over the devices).", flag="integer",
        check=at_least(1), recorded=True)
    learning_rate: float = setting(
        1.5e-4, "Base learning rate, scaled by batch_size / 256.", flag="float",
        check=in_range(0.0, low_open=True), recorded=True)
    warmup_epochs: float = setting(
        10, "Linear warm-up epochs before cosine decay.", flag="float", check=in_range(0.0),
        recorded=True)
    weight_decay: float = setting(
        0.05, "AdamW decoupled weight decay.", flag="float", check=in_range(0.0), recorded=True)
    crop_scale_min: float = setting(
        0.2, "Smallest area of the random resized crop, as a fraction of the image (MAE: 0.2; the "
        "crop's largest is the whole image).", flag="float", check=in_range(0.0, 1.0, low_open=True),
        recorded=True)
    mask_ratio: float = setting(
        None, "Fraction of the patches hidden from the student; default: the preset's.", flag="float")
    noise_std: float = setting(
        None, "Gaussian noise on the student's visible patches (normalised pixel units); "
        "default: the preset's.", flag="float")
    loss_weight: float = setting(
        None, "Weight of the feature-distillation loss (student predictions of the EMA teacher's "
        "features) next to the pixel loss (weight 1); 0 is plain MAE; default: the preset's.",
        flag="float")
    model_overrides: dict = setting(
        None, 'JSON dict of any other DSMAE arguments, e.g. \'{"encoder_depth": 6}\' (wins over '
        "--mask_ratio, --noise_std and --loss_weight).", flag="string", parse=json_object,
        check=_json_dict)
    mixed_precision: str = setting(
        "auto", "auto: a resumed run's own precision; else bfloat16 on a GPU or a CPU with native "
        "bfloat16 (AVX512-BF16/AMX-BF16), float32 elsewhere.", flag="enum", choices=PRECISIONS)
    seed: int = setting(
        0, "Seed of the initialisation, masks, noise, data order and augmentation.", flag="integer",
        check=lambda name, value: validation.check_seed(name, value, allow_none=False), recorded=True)
    data_dir: str = setting(None, "TFDS data directory with the prepared data set.", flag="string")
    use_synthetic_data: bool = setting(
        False, "Generated images instead of TFDS (offline runs; catalog data sets only).", flag="bool",
        check=is_bool, recorded=True)
    synthetic_examples: int = setting(
        2048, "How many generated images (--use_synthetic_data).", flag="integer", check=at_least(1))
    normalization: Normalization = setting(
        None, "Per-channel mean/std in [0, 1] units as MEAN,MEAN,MEAN/STD,STD,STD, or 'imagenet'; "
        "default: the catalog's, else from a sample of the data (a resumed run keeps its own).",
        flag="string", parse=Normalization.parse, check=_normalization)
    augment_on: str = setting(
        "auto", "Where the crops, flips and normalisation run: device (inside the compiled step; "
        "data that fits stays on the device), host (tf.data), or auto (device).", flag="enum",
        choices=AUGMENT_ON, recorded=True)
    jit_compile: str = setting(
        "auto", "Compile the training step: auto (Keras' choice: XLA on JAX, and on TensorFlow with "
        "a GPU; PyTorch eager), true (also torch.compile on PyTorch and XLA on a TensorFlow CPU; "
        "minutes of compiling before the first step), or false.", flag="enum", choices=JIT_COMPILE)
    on_error: str = setting(
        "skip", "Image files that do not decode (folder:): skip them with a warning at the end of "
        "each epoch, or raise at the first.", flag="enum", choices=ON_ERROR)
    distribution: str = setting(
        "auto", "Data-parallel engine: auto, none, mirrored (TensorFlow, one host), data_parallel "
        "(JAX); see keras_dsmae.training.distribution. --batch_size is the global batch.",
        flag="enum", choices=DISTRIBUTIONS)
    checkpoint_every_minutes: float = setting(
        30.0, "Also checkpoint within an epoch when this many minutes passed since the last save "
        "(bounds what a kill loses); 0: at epoch ends only.", flag="float", check=in_range(0.0))
    checkpoint_every_steps: int = setting(
        None, "Also checkpoint every N steps within an epoch; default: by time only.", flag="integer",
        check=at_least(1, optional=True))
    reconstruction_every: int = setting(
        5, "Reconstruction grid every N epochs.", flag="integer", check=at_least(1))
    knn_every: int = setting(
        0, f"kNN accuracy on the labelled data every N epochs (0: off; {', '.join(DATASETS)} "
        "only).", flag="integer", check=at_least(0))
    init_from: str = setting(
        None, "Start from a Hugging Face folder: a ViT folder (one keras-dsmae-export wrote) gives the "
        "student encoder of a model of its size, a ViTMAE folder (facebook/vit-mae-*, or "
        "--format=vit_mae) the architecture, encoder and decoder; the teacher starts as the encoder. A "
        "size that does not fit is refused, naming both.",
        flag="string", check=_vit_folder, recorded=True)
    allow_config_change: bool = setting(
        False, "Continue the run in --output_dir from its last checkpoint although settings other "
        "than --epochs changed (recorded in run_config.json).", flag="bool", check=is_bool)

    def __post_init__(self):
        check_fields(self)
        if self.knn_every and self.dataset not in DATASETS:
            raise ValueError(
                f"`knn_every` needs a labelled data set the package knows ({', '.join(DATASETS)}); "
                f"got knn_every={self.knn_every} with dataset={self.dataset!r}. Evaluate the "
                f"encoder afterwards instead."
            )

    @property
    def run_folder(self):
        """`output_dir`, or its default `runs/<dataset>_<preset>`."""
        if self.output_dir:
            return self.output_dir
        return os.path.join("runs", f"{parse_dataset(self.dataset).run_name}_{self.preset or 'default'}")

    def model_settings(self):
        """The DSMAE arguments asked for on top of the preset:
        `mask_ratio`, `noise_std`, `loss_weight` when given, then
        `model_overrides` (which win)."""
        named = dict(mask_ratio=self.mask_ratio, noise_std=self.noise_std, loss_weight=self.loss_weight)
        return {**{k: v for k, v in named.items() if v is not None}, **(self.model_overrides or {})}

    def keras_jit_compile(self):
        """`jit_compile` as `Model.compile` takes it: "auto", True or False."""
        return {"true": True, "false": False}.get(self.jit_compile, "auto")

    def recorded(self):
        """`{name: value}` of the settings that go into `run_config.json` as
        given (the job adds what it resolved: preset, steps, precision, ...)."""
        return recorded_fields(self)


PretrainingConfig.__doc__ += field_docs(PretrainingConfig)
