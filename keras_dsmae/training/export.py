"""`keras-dsmae-export`: a pretrained `encoder.keras` as a folder other
libraries load, with its preprocessing and a model card. Three formats:

- `vit` (the default): a Hugging Face ViT folder, which
  `transformers.ViTModel.from_pretrained(folder)` and
  `keras_hub.models.ViTBackbone.from_preset(folder)` load
  (`keras_dsmae.models.hf_vit`), and this package with
  `ViTEncoder.from_pretrained_vit(folder)` or `--init_from=folder`;
- `vit_mae`: the run's whole MAE (encoder and pixel decoder) as a Hugging
  Face ViTMAE folder, which `transformers.ViTMAEForPreTraining` loads with
  the same loss and reconstructions (`keras_dsmae.models.hf_vit_mae`), and
  this package with `DSMAE.from_pretrained_mae(folder)` or `--init_from`;
- `timm`: the encoder as a timm `VisionTransformer` state dict with the
  `timm.create_model` arguments that take it (`keras_dsmae.models.timm_vit`).
"""

import csv
import json
import os

import keras

from keras_dsmae import models  # noqa: F401  (registers the layers for loading)
from keras_dsmae.callbacks.run_checkpoint import TrainingDiverged
from keras_dsmae.models import hf_vit, hf_vit_mae, timm_vit
from keras_dsmae.training.run_config import read_run_config
from keras_dsmae.training.run_model import load_run_model
from keras_dsmae.utils.atomic_write import atomic_path
from keras_dsmae.utils.finite import non_finite_variables
from keras_dsmae.version import __version__

PREPROCESSOR_FILE = "preprocessor_config.json"
CARD_FILE = "README.md"
PRETRAINING_MODEL_FILE = "pretraining_model.keras"
SCORES = ("knn_accuracy", "linear_probe_accuracy")
FORMATS = ("vit", "vit_mae", "timm")
IMAGENET_NORMALIZATION = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


def export_encoder_folder(encoder_path, output_dir, scores=None, include_decoder=False, format="vit"):
    """Write the encoder of `encoder_path` (with `format="vit_mae"` the
    run's whole MAE) as a folder of `format` (see the module docstring).

    `output_dir` is written whole or not at all (a folder filled aside and
    renamed; an existing one is replaced). An encoder with non-finite
    weights, or one the format cannot hold (non-square images, no class
    token, ...), is refused before anything is written.

    Args:
        encoder_path: an `encoder.keras` (a run folder's; its
            `run_config.json`, if next to it, gives the preprocessing and
            the model card's facts).
        output_dir: the folder to write.
        scores: `{"knn_accuracy": ..., "linear_probe_accuracy": ...}` for
            the model card (fractions); a run's logged kNN accuracy is
            used when not given.
        include_decoder: also write the run's whole pretraining model
            (student, decoder and teacher; float32, no optimizer) as
            `pretraining_model.keras`, for reconstructions or further
            pretraining (`keras.saving.load_model` after `import
            keras_dsmae`). It is loaded from the run's newest checkpoint,
            which must hold exactly the exported encoder's weights.
        format: `"vit"`, `"vit_mae"` (needs the run folder next to the
            encoder, as `include_decoder` does) or `"timm"`.

    Returns:
        `output_dir`.
    """
    if format not in FORMATS:
        raise ValueError(f"`format` must be one of {', '.join(FORMATS)}; got format={format!r}.")
    scores = _checked_scores(scores)
    if not os.path.isfile(encoder_path):
        raise ValueError(f"`encoder` {encoder_path!r} is not a file; pass a run's encoder.keras.")
    encoder = keras.saving.load_model(encoder_path, compile=False)
    if not isinstance(encoder, models.ViTEncoder):
        raise ValueError(f"`encoder` {encoder_path!r} holds a {type(encoder).__name__}, not a ViTEncoder.")
    (timm_vit.check_timm_exportable if format == "timm" else hf_vit.check_exportable)(encoder)
    bad = non_finite_variables(encoder.weights)
    if bad:
        raise TrainingDiverged(f"Not exporting {encoder_path}: {len(bad)} weight(s) are non-finite, "
                               f"e.g. {bad[0]}.")
    run_folder = os.path.dirname(os.path.abspath(encoder_path))
    run = read_run_config(run_folder) or {}
    logged = _logged_knn(os.path.join(run_folder, "history.csv"))
    if logged is not None:
        scores.setdefault("knn_accuracy", logged)
    needs_model = include_decoder or format == "vit_mae"
    whole = _pretraining_model_of(encoder, encoder_path, run_folder, format) if needs_model else None
    if format == "vit_mae":
        hf_vit_mae.vit_mae_config(whole)  # refuses a model without pixel decoder, before writing
    normalization = run.get("normalization") or IMAGENET_NORMALIZATION
    with atomic_path(output_dir) as partial:
        os.makedirs(partial)
        if format == "timm":
            timm_vit.write_timm_folder(encoder, partial, normalization["mean"], normalization["std"])
        else:
            (hf_vit_mae.write_vit_mae_folder(whole, partial) if format == "vit_mae"
             else hf_vit.write_vit_folder(encoder, partial))
            with open(os.path.join(partial, PREPROCESSOR_FILE), "w") as file:
                json.dump(preprocessor_config(encoder, normalization), file, indent=2)
        with open(os.path.join(partial, CARD_FILE), "w") as file:
            file.write(model_card(encoder, run, scores, include_decoder, format, whole))
        if include_decoder:
            whole.save(os.path.join(partial, PRETRAINING_MODEL_FILE))
    return output_dir


def _pretraining_model_of(encoder, encoder_path, run_folder, format):
    """The run's whole `DSMAE` at its newest checkpoint, refused (a
    `ValueError` naming both) unless its encoder is `encoder` exactly."""
    asked = "`format`='vit_mae'" if format == "vit_mae" else "`include_decoder`"
    try:
        model, checkpoint = load_run_model(run_folder)
    except ValueError as error:
        raise ValueError(f"{asked} needs the run folder next to the encoder: {error}") from None
    ours = [keras.ops.convert_to_numpy(w) for w in model.encoder.weights]
    theirs = [keras.ops.convert_to_numpy(w) for w in encoder.weights]
    if len(ours) != len(theirs) or any(a.shape != b.shape or (a != b).any() for a, b in zip(ours, theirs)):
        raise ValueError(
            f"{asked}: the newest checkpoint of the run, {checkpoint}, does not hold the weights of "
            f"`encoder` {encoder_path!r} (the run went on after the encoder was written, or the encoder is "
            f"another run's); export the encoder the run writes next, or its encoder alone (--format=vit or "
            f"timm, without --include_decoder).")
    return model


def preprocessor_config(encoder, normalization):
    """`preprocessor_config.json` (`ViTImageProcessor`): the encoder's size
    and the run's normalisation (`{"mean": ..., "std": ...}`; ImageNet's
    when the run is unknown)."""
    height, width = encoder.image_size
    return {
        "image_processor_type": "ViTImageProcessor",
        "do_resize": True, "size": {"height": height, "width": width}, "resample": 3,
        "do_rescale": True, "rescale_factor": 1 / 255,
        "do_normalize": True, "image_mean": list(normalization["mean"]), "image_std": list(normalization["std"]),
    }


def model_card(encoder, run, scores, with_decoder=False, format="vit", model=None):
    """The folder's `README.md`: what was pretrained how, and how to load it
    in `format` (`model`: the run's whole `DSMAE`, for `vit_mae`)."""
    facts = [("method and preset", run.get("preset", "unknown (no run_config.json next to the encoder)")),
             ("pretraining data", run.get("dataset", "unknown")),
             ("epochs × steps per epoch × batch",
              f"{run.get('epochs', '?')} × {run.get('steps_per_epoch', '?')} × {run.get('batch_size', '?')}"),
             ("seed", run.get("seed", "unknown")),
             ("backend, precision", f"{run.get('backend', '?')}, {run.get('dtype_policy', '?')}"),
             ("model settings over the preset", json.dumps(run.get("overrides") or {})),
             ("encoder", (f"ViT, {encoder.hidden_dim} wide, {encoder.depth} blocks, {encoder.num_heads} heads, "
                          f"{encoder.image_size[0]}×{encoder.image_size[1]}×{encoder.num_channels} images in "
                          f"{encoder.patch_size}×{encoder.patch_size} patches")),
             ("package", f"keras_dsmae {__version__}")]
    if model is not None:
        config = model.get_config()
        facts.append(("MAE rules (visible count, norm_pix variance)",
                      f"{config.get('visible_rounding', '?')}, {config.get('norm_pix_variance', '?')} "
                      f"(the reference's: floor, unbiased)"))
        masking = model.masking
        if format == "vit_mae" and (masking.strategy_name != "random" or model.masks_per_image > 1):
            facts.append(("masking (not carried by the ViTMAE layout)",
                          f"{masking.strategy_name}, {model.masks_per_image} per image; transformers masks "
                          f"uniformly at random, one mask per image, so its loss is plain MAE's on these weights"))
    facts += [(name.replace("_", " "), f"{100 * value:.1f} %") for name, value in scores.items()]
    rows = "\n".join(f"| {name} | {value} |" for name, value in facts)
    extra = (f" `{PRETRAINING_MODEL_FILE}` holds the whole pretraining model (student, decoder and EMA "
             f"teacher, float32) for keras_dsmae: `import keras_dsmae; keras.saving.load_model(\"{PRETRAINING_MODEL_FILE}\")`."
             if with_decoder else "")
    contents, usage = _format_usage(encoder, format)
    return f"""---
library_name: {"timm" if format == "timm" else "transformers"}
tags: [vit, masked-image-modeling, self-supervised, keras_dsmae]
---

# A DSD-MAE-pretrained ViT

Pretrained with keras_dsmae (DSD-MAE, the denoising self-distillation
masked autoencoder: a ViT masked autoencoder with noisy visible patches and an
EMA teacher). {contents}{extra}

| | |
|---|---|
{rows}

The position embedding is the fixed 2-D sin-cos table (the class token's row
is zero). {"Inputs are normalised with the mean and std in config.json." if format == "timm"
           else f"Inputs are normalised as `{PREPROCESSOR_FILE}` says."}

```python
{usage}
```
"""


def _format_usage(encoder, format):
    """`(what the folder holds, how to load it)` for the model card."""
    if format == "vit_mae":
        return ("The encoder and pixel decoder as a Hugging Face ViTMAE (the teacher stays with the run).",
                """from transformers import ViTMAEForPreTraining     # PyTorch: loss, reconstructions, Trainer
model = ViTMAEForPreTraining.from_pretrained("this/folder")

import keras_dsmae                                  # back into keras_dsmae, to go on pretraining
model = keras_dsmae.DSMAE.from_pretrained_mae("this/folder")   # or --init_from=this/folder""")
    if format == "timm":
        arguments = ", ".join(f"{k}={v!r}" for k, v in timm_vit.timm_model_arguments(encoder).items())
        return ("The encoder as a timm VisionTransformer (no head; the decoder and teacher stay with the run).",
                f"""import timm                                 # needs torch (and torchvision)
model = timm.create_model("local-dir:this/folder", pretrained=True)   # timm with local-dir: sources

import safetensors.torch                    # or, with any timm 1.x:
model = timm.create_model("{timm_vit.BASE_ARCHITECTURE}", pretrained=False, {arguments})
model.load_state_dict(safetensors.torch.load_file("this/folder/model.safetensors"))
tokens = model.forward_features(images)     # (B, 1 + N, D), as the Keras encoder's""")
    return ("The encoder (the decoder and teacher stay with the run).",
            """from transformers import ViTModel                 # PyTorch
model = ViTModel.from_pretrained("this/folder", add_pooling_layer=False)

import keras_hub                                  # Keras 3, any backend
backbone = keras_hub.models.ViTBackbone.from_preset("this/folder")

from keras_dsmae import ViTEncoder                # back into keras_dsmae
encoder = ViTEncoder.from_pretrained_vit("this/folder")""")


def _checked_scores(scores):
    scores = dict(scores or {})
    for name, value in scores.items():
        if name not in SCORES:
            raise ValueError(f"`scores` has {name!r}; allowed: {', '.join(SCORES)}.")
        if not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ValueError(f"`scores[{name!r}]` must be a fraction in [0, 1]; got {value!r}.")
    return scores


def _logged_knn(history_path):
    """The last logged `val_knn_accuracy` of a run's `history.csv`, or None."""
    if not os.path.isfile(history_path):
        return None
    with open(history_path, newline="") as file:
        logged = [row.get("val_knn_accuracy") for row in csv.DictReader(file)]
    logged = [float(value) for value in logged if value not in (None, "")]
    return logged[-1] if logged else None
