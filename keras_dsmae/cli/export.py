"""`keras-dsmae-export`: a run's `encoder.keras` as a folder that other
libraries load (`keras_dsmae.training.export`).

    keras-dsmae-export --encoder=runs/cifar100/encoder.keras --output_dir=exported/cifar100
    keras-dsmae-export ... --include_decoder    # also the whole DSMAE, for reconstructions
    keras-dsmae-export ... --format=vit_mae     # the whole MAE for transformers' ViTMAEForPreTraining
    keras-dsmae-export ... --format=timm        # the encoder as a timm VisionTransformer
"""

from absl import flags

from keras_dsmae.cli.common import exit_on_failure, run_command
from keras_dsmae.training.export import FORMATS, export_encoder_folder

FLAGS = flags.FLAGS


def _export():
    scores = {name: getattr(FLAGS, name) for name in ("knn_accuracy", "linear_probe_accuracy")
              if getattr(FLAGS, name) is not None}
    folder = export_encoder_folder(FLAGS.encoder, FLAGS.output_dir, scores=scores,
                                   include_decoder=FLAGS.include_decoder, format=FLAGS.format)
    extra = ", pretraining_model.keras" if FLAGS.include_decoder else ""
    files = "config.json, model.safetensors" + ("" if FLAGS.format == "timm" else ", preprocessor_config.json")
    loaders = {"vit": "transformers.ViTModel.from_pretrained or keras_hub.models.ViTBackbone.from_preset",
               "vit_mae": "transformers.ViTMAEForPreTraining.from_pretrained or DSMAE.from_pretrained_mae",
               "timm": "timm.create_model('local-dir:FOLDER', pretrained=True); README.md has the arguments"}
    print(f"wrote {folder}: {files}, README.md{extra} (load it with {loaders[FLAGS.format]})", flush=True)


def main(argv=None):
    """`keras-dsmae-export`. Exits: 0 when written, 1 on a failure (nothing written)."""
    flags.DEFINE_string("encoder", None, "The run's encoder.keras to export.")
    flags.DEFINE_string("output_dir", None, "The folder to write (replaced whole when it exists).")
    flags.DEFINE_float("knn_accuracy", None, "kNN accuracy (a fraction) for the model card; default: the "
                       "run's last logged one, if any.")
    flags.DEFINE_float("linear_probe_accuracy", None, "Linear-probe accuracy (a fraction) for the model card.")
    flags.DEFINE_bool("include_decoder", False, "Also write the run's whole pretraining model (encoder, decoder, "
                      "teacher) as pretraining_model.keras, from its newest checkpoint (which must hold the "
                      "exported encoder's weights).")
    flags.DEFINE_enum("format", "vit", FORMATS, "vit: the encoder as a Hugging Face ViT (transformers, "
                      "keras-hub); vit_mae: the run's encoder and pixel decoder as a Hugging Face ViTMAE "
                      "(ViTMAEForPreTraining; needs the run folder next to the encoder); timm: the encoder as "
                      "a timm VisionTransformer.")
    flags.mark_flags_as_required(["encoder", "output_dir"])
    run_command(lambda argv: exit_on_failure(_export), argv)
