"""`Budget`: every setting of the Fashion-MNIST benchmark, declared once.

Its fields generate the script's flags (`define_flags(Budget)`) and are
checked when it is made (`from_flags(Budget)`), before any work; functions
take the budget instead of reading flags.
"""

import dataclasses
import inspect
import json
import math

from quality.ablations import ABLATIONS

from keras_dsmae.models import DSMAE
from keras_dsmae.models.flops import training_flops_per_image
from keras_dsmae.models.method_knobs import method_knobs
from keras_dsmae.training import PretrainingConfig
from keras_dsmae.utils.settings import at_least, check_fields, in_range, is_bool, setting

# the benchmark's ViT beside the budget's widths (28×28 grey images)
FIXED_ARCHITECTURE = dict(image_size=28, num_channels=1, encoder_heads=4, decoder_dim=64, decoder_depth=2,
                          decoder_heads=4, mlp_ratio=4.0)
_FLOPS_PER_IMAGE = {}  # model arguments (JSON) → training FLOPs per image
# what a score cached before these settings existed was made with (they are recorded only when changed)
UNRECORDED_DEFAULTS = dict(augment_on="host", finetune_crop_scale_min=0.0, finetune_mixing=0.0)


def _names(allowed=None, integers=False):
    """Check: a comma-separated list (or a sequence) → a tuple of names (or ints)."""
    def check(name, value):
        items = tuple(str(value).split(",") if isinstance(value, str) else value)
        items = tuple(item.strip() if isinstance(item, str) else item for item in items if str(item).strip())
        if not items:
            raise ValueError(f"`{name}` must list at least one item; got {name}={value!r}.")
        if integers:
            try:
                return tuple(int(item) for item in items)
            except ValueError:
                raise ValueError(f"`{name}` must be integers; got {name}={value!r}.") from None
        unknown = sorted(set(items) - set(allowed))
        if unknown:
            raise ValueError(f"`{name}`: unknown {unknown}; allowed: {sorted(allowed)}.")
        return items
    return check


def _pretrained_row(name, value):
    """Check: the name of one row that pretrains."""
    if value not in ABLATIONS or not ABLATIONS[value].pretrained:
        rows = sorted(row for row, ablation in ABLATIONS.items() if ablation.pretrained)
        raise ValueError(f"`{name}` must be one pretrained row of {rows}; got {name}={value!r}.")
    return value


@dataclasses.dataclass(frozen=True)
class Budget:
    data_dir: str = setting("/usr/share/datasets/fashion-mnist", "Folder with the idx(.gz) files.", flag="string")
    output_dir: str = setting("runs/fashion_mnist", "Where runs, scores, results and plots go.", flag="string")
    configs: tuple = setting("pixels,random,mae,dsmae", f"Rows, any of {sorted(ABLATIONS)} "
                             "(benchmarks/quality/ablations.json).", flag="string", check=_names(ABLATIONS))
    seeds: tuple = setting("0,1,2", "Seeds; each row is pretrained and evaluated once per seed.",
                           flag="string", check=_names(integers=True))
    epochs: int = setting(4, "Pretraining epochs over the training images (each row).", flag="integer",
                          check=at_least(1))
    batch_size: int = setting(256, "Pretraining batch.", flag="integer", check=at_least(1))
    learning_rate: float = setting(1e-3, "Base pretraining rate (scaled by batch/256).", flag="float",
                                   check=in_range(0.0, low_open=True))
    warmup_epochs: float = setting(0.25, "Pretraining warm-up epochs.", flag="float", check=in_range(0.0))
    mask_ratio: float = setting(0.75, "Masked fraction of the patches.", flag="float",
                                check=in_range(0.0, 1.0, low_open=True))
    noise_std: float = setting(0.25, "DSD-MAE noise (normalised pixel units).", flag="float", check=in_range(0.0))
    loss_weight: float = setting(1.0, "DSD-MAE feature-distillation weight.", flag="float", check=in_range(0.0))
    teacher_momentum: float = setting(0.99, "Initial EMA momentum (short runs want < 0.996).", flag="float",
                                      check=in_range(0.0, 1.0))
    crop_scale_min: float = setting(0.35, "Smallest random-resized-crop area in pretraining.", flag="float",
                                    check=in_range(0.0, 1.0, low_open=True))
    augment_on: str = setting("host", "Where the pretraining crops, flips and normalisation run (host is "
                              "the setting of every figure so far).", flag="enum", choices=("host", "device"))
    encoder_dim: int = setting(128, "ViT width.", flag="integer", check=at_least(4))
    encoder_depth: int = setting(4, "ViT blocks.", flag="integer", check=at_least(1))
    patch_size: int = setting(7, "Patch size (28 must be divisible by it).", flag="integer", check=at_least(1))
    train_examples: int = setting(60000, "Training images used (the first ones; fewer for a smoke run).",
                                  flag="integer", check=at_least(1))
    test_examples: int = setting(10000, "Test images scored (the first ones).", flag="integer", check=at_least(1))
    eval_train_examples: int = setting(10000, "Training images used as kNN / probe references.",
                                       flag="integer", check=at_least(1))
    knn_k: int = setting(20, "kNN neighbours.", flag="integer", check=at_least(1))
    linear_epochs: int = setting(50, "Linear-probe epochs (on cached features).", flag="integer",
                                 check=at_least(1))
    finetune_examples: int = setting(20000, "Training images for fine-tuning.", flag="integer", check=at_least(1))
    finetune_epochs: int = setting(1, "Fine-tuning epochs (0: no fine-tuning).", flag="integer", check=at_least(0))
    finetune_learning_rate: float = setting(1e-3, "Base fine-tuning rate (scaled by batch/256).", flag="float",
                                            check=in_range(0.0, low_open=True))
    finetune_crop_scale_min: float = setting(
        0.0, "Smallest random-resized-crop area for fine-tuning images (with a random flip); 0: no "
        "augmentation.", flag="float", check=in_range(0.0, 1.0))
    finetune_mixing: float = setting(
        0.0, "Fine-tuning MixUp alpha 0.8 × this and CutMix alpha 1.0 × this (the MAE recipe at 1); 0: off.",
        flag="float", check=in_range(0.0))
    equal_time_factor: float = setting(
        1.8, "Epoch multiplier of rows with `epochs_scale: null` (mae_equal_time): DSD-MAE's pretraining "
        "time over MAE's (4.6 / 2.6 min in the 2026-11-30 default run).", flag="float",
        check=in_range(0.0, low_open=True))
    pooling: str = setting("mean", "Features for kNN and the linear probe: the mean-pooled last block, or "
                           "the mean-pooled average of the last two blocks.", flag="enum",
                           choices=("mean", "mean_last2"))
    evaluate_teacher: bool = setting(True, "Also evaluate the EMA teacher (kNN, linear) of teacher rows.",
                                     flag="bool", check=is_bool)
    baseline: str = setting("", "One of --configs: also print every other row's difference from it, "
                            "paired by seed.", flag="string")
    mixed_precision: str = setting("float32", "Pretraining precision; evaluation always runs in float32.",
                                   flag="enum", choices=("float32", "bfloat16"))
    match: str = setting("epochs", "What the pretrained rows share: `epochs` (--epochs × each row's scale) or "
                         "`flops` (every row of another method than --flops_of gets --flops_scale × that row's "
                         "training FLOPs, in as many steps as they buy at its own cost per step; rows of "
                         "--flops_of's method keep their epochs and trace its accuracy against compute).",
                         flag="enum", choices=("epochs", "flops"))
    flops_of: str = setting("mae_equal_time", "With --match=flops: the row whose pretraining FLOPs (at its own "
                            "epochs) set the budget; it need not be in --configs.", flag="string",
                            check=_pretrained_row)
    flops_scale: float = setting(1.0, "With --match=flops: the budget as a multiple of --flops_of's FLOPs.",
                                 flag="float", check=in_range(0.0, low_open=True))

    def __post_init__(self):
        check_fields(self)
        if self.baseline and self.baseline not in self.configs:
            raise ValueError(f"`baseline` must be one of `configs` {list(self.configs)}; got "
                             f"baseline={self.baseline!r}.")
        if 28 % self.patch_size:
            raise ValueError(f"`patch_size` must divide 28; got patch_size={self.patch_size}.")

    def matched(self, ablation):
        """Whether a row's budget is FLOPs-matched to `flops_of` (`match="flops"`,
        a pretrained row of another method), not its own epochs."""
        return (self.match == "flops" and ablation.pretrained
                and ablation.overrides != ABLATIONS[self.flops_of].overrides)

    def run_name(self, ablation, seed):
        """The stem of a row's run folder and score file at `seed`: a
        FLOPs-matched row's names its budget, so that runs at other budgets
        stay cached beside it."""
        if not self.matched(ablation):
            return f"{ablation.name}_seed{seed}"
        return f"{ablation.name}_{self.flops_scale:g}x{self.flops_of}_seed{seed}"

    def flops_per_image(self, ablation):
        """Analytic training FLOPs per image of a row's model (`models.flops`)."""
        arguments = self.model_arguments(ablation)
        key = json.dumps(arguments, sort_keys=True)
        if key not in _FLOPS_PER_IMAGE:
            _FLOPS_PER_IMAGE[key] = training_flops_per_image(DSMAE(**arguments))
        return _FLOPS_PER_IMAGE[key]

    def schedule_of(self, ablation, train_count):
        """`(epochs, steps per epoch or None for a whole pass)` of a row
        pretrained on `train_count` images: its own epochs, or, with
        `match="flops"`, the steps that spend `flops_of`'s training FLOPs
        at this row's cost per step (rounded to a step), spread evenly
        over the fewest epochs of at most one pass each."""
        full = self.steps_per_pass(train_count)
        if not self.matched(ablation):
            return self.epochs_of(ablation), None
        reference = ABLATIONS[self.flops_of]
        reference_flops = self.flops_scale * self.flops_per_image(reference) * self.epochs_of(reference) * full
        steps = max(1, round(reference_flops / self.flops_per_image(ablation)))
        epochs = math.ceil(steps / full)
        per_epoch = round(steps / epochs)
        return epochs, (None if per_epoch == full else per_epoch)

    def training_flops(self, ablation, train_count):
        """Analytic pretraining FLOPs of a row: per image × batch × steps."""
        return self.flops_per_image(ablation) * self.batch_size * self.steps_of(ablation, train_count)

    def steps_per_pass(self, train_count):
        """Steps of one pass over `train_count` images (the job's batches drop the remainder)."""
        return max(1, train_count // self.batch_size)

    def steps_of(self, ablation, train_count):
        """A row's pretraining steps in all."""
        epochs, per_epoch = self.schedule_of(ablation, train_count)
        return epochs * (per_epoch or self.steps_per_pass(train_count))

    def epochs_of(self, ablation):
        """Pretraining epochs of a row: `epochs` × its scale."""
        scale = self.equal_time_factor if ablation.epochs_scale is None else ablation.epochs_scale
        return max(1, round(self.epochs * scale))

    def model_arguments(self, ablation):
        """Every `DSMAE` argument of a row (all of them, so that no preset's value leaks in)."""
        signature = inspect.signature(DSMAE.__init__).parameters
        defaults = {name: p.default for name, p in signature.items() if p.default is not inspect.Parameter.empty}
        knobs = {name: knob.default for name, knob in method_knobs().items() if name != "seed"}
        ours = dict(FIXED_ARCHITECTURE, patch_size=self.patch_size, encoder_dim=self.encoder_dim,
                    encoder_depth=self.encoder_depth, mask_ratio=self.mask_ratio, noise_std=self.noise_std,
                    loss_weight=self.loss_weight, teacher_momentum=self.teacher_momentum)
        return {**defaults, **knobs, **ours, **(ablation.overrides or {})}

    def job(self, ablation, seed, train_file, train_count, normalization, run_folder):
        """The `PretrainingConfig` of a row at a seed, on `train_count` images."""
        epochs, per_epoch = self.schedule_of(ablation, train_count)
        return PretrainingConfig(
            dataset=f"npy:{train_file}", output_dir=run_folder, preset="mae_vit_tiny_cifar", image_size=28,
            epochs=epochs, steps_per_epoch=per_epoch, batch_size=self.batch_size, learning_rate=self.learning_rate,
            warmup_epochs=self.warmup_epochs, crop_scale_min=self.crop_scale_min,
            model_overrides=self.model_arguments(ablation), mixed_precision=self.mixed_precision, seed=seed,
            normalization=normalization, augment_on=self.augment_on, checkpoint_every_minutes=0.0,
            reconstruction_every=max(1, epochs))

    def pretraining_record(self, ablation, seed, train_count):
        """What scores record of the encoder they score (a score is reused only when it matches)."""
        keys = ("batch_size", "learning_rate", "warmup_epochs", "mask_ratio", "noise_std", "loss_weight",
                "teacher_momentum", "crop_scale_min", "encoder_dim", "encoder_depth", "patch_size",
                "mixed_precision", "train_examples")
        epochs, per_epoch = self.schedule_of(ablation, train_count)
        record = {"config": ablation.name, "overrides": ablation.overrides, "seed": seed,
                  "epochs": epochs, **{key: getattr(self, key) for key in keys}}
        if per_epoch is not None:  # recorded only when set, so that older scores still match
            record["steps_per_epoch"] = per_epoch
        return {**record, **self._changed(("augment_on",))}

    def evaluation_record(self):
        """What scores record of how they were evaluated."""
        keys = ("eval_train_examples", "test_examples", "knn_k", "linear_epochs", "finetune_examples",
                "finetune_epochs", "finetune_learning_rate", "pooling")
        return {**{key: getattr(self, key) for key in keys},
                **self._changed(("finetune_crop_scale_min", "finetune_mixing"))}

    def _changed(self, keys):
        return {key: getattr(self, key) for key in keys if getattr(self, key) != UNRECORDED_DEFAULTS[key]}

    def finetune_mixing_alphas(self):
        """`(MixUp alpha, CutMix alpha)`: the MAE recipe's 0.8 / 1.0 × `finetune_mixing`."""
        return 0.8 * self.finetune_mixing, 1.0 * self.finetune_mixing
