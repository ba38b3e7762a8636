"""DSD-MAE as a second stage: start from a pretrained MAE (a Hugging Face
ViTMAE folder, e.g. facebook/vit-mae-base), go on pretraining it on your
own images with the noisy student and the EMA teacher added, and compare
the encoder's kNN accuracy before and after.

    python examples/mae_second_stage.py --mae=/models/vit-mae-base --images=/data/flowers \\
        --output_dir=runs/flowers_stage2

`--mae` is the folder as the hub ships it (`config.json` with
`"model_type": "vit_mae"`, `model.safetensors` or `pytorch_model.bin`;
download it beforehand, this script never does). The architecture is the
folder's, the encoder, decoder and teacher start from it; the method
(noise, masking, teacher, loss terms) is `--preset`'s. `--images` holds
`train/<class>/...` and `test/<class>/...` image files: pretraining reads
`train/` without labels, the labels only score the encoder. The run
resumes when rerun, and ends with the second stage exported as a ViTMAE
folder (`<output_dir>/vit_mae`) that transformers' `ViTMAEForPreTraining`
loads.
"""

import argparse
import os
import sys

from keras_dsmae import DSMAE, data, evaluation
from keras_dsmae.training import PretrainingConfig, run_pretraining
from keras_dsmae.training.export import export_encoder_folder


def knn_score(encoder, images, batch_size, k):
    """kNN accuracy of `encoder` on the labelled folder `images`."""
    train, test, num_classes, _ = data.evaluation_splits(
        f"folder:{images}", image_size=encoder.image_size, num_channels=encoder.num_channels,
        batch_size=batch_size)
    return evaluation.knn_accuracy(encoder, train, test, k=k, num_classes=num_classes)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mae", required=True, help="a Hugging Face ViTMAE folder (config.json + weights)")
    parser.add_argument("--images", required=True, help="folder with train/<class>/ and test/<class>/")
    parser.add_argument("--output_dir", required=True, help="the second stage's run folder")
    parser.add_argument("--preset", default="dsmae_vit_small_224",
                        help="the method of the second stage (its architecture is the folder's)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--steps_per_epoch", type=int, default=None, help="default: one pass")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--learning_rate", type=float, default=5e-5, help="lower than from scratch: it goes on")
    parser.add_argument("--knn_k", type=int, default=20, help="neighbours of the kNN score")
    parser.add_argument("--mixed_precision", default="auto", choices=("auto", "float32", "bfloat16", "float16"))
    args = parser.parse_args(argv)
    for split in ("train", "test"):
        if not os.path.isdir(os.path.join(args.images, split)):
            parser.error(f"--images {args.images!r} has no {split}/ folder of class folders")

    # 1. The MAE as it comes: its encoder's kNN accuracy on your images.
    first = DSMAE.from_pretrained_mae(args.mae)
    before = knn_score(first.encoder, args.images, args.batch_size, args.knn_k)
    print(f"MAE from {args.mae}: kNN accuracy {before:.3f}", flush=True)

    # 2. The second stage: the same weights, with noise, the teacher and its terms added.
    config = PretrainingConfig(
        dataset=f"folder:{os.path.join(args.images, 'train')}", init_from=args.mae, preset=args.preset,
        epochs=args.epochs, steps_per_epoch=args.steps_per_epoch, batch_size=args.batch_size,
        learning_rate=args.learning_rate, warmup_epochs=min(1, args.epochs), output_dir=args.output_dir,
        reconstruction_every=max(args.epochs // 4, 1), mixed_precision=args.mixed_precision)
    model, _ = run_pretraining(config, verbose=2)
    after = knn_score(model.encoder, args.images, args.batch_size, args.knn_k)
    print(f"after {args.epochs} epoch(s) of DSD-MAE ({args.preset}'s method): kNN accuracy {after:.3f} "
          f"({100 * (after - before):+.1f} points)", flush=True)

    # 3. The second stage back as a ViTMAE folder (encoder and pixel decoder) for transformers.
    folder = export_encoder_folder(os.path.join(args.output_dir, "encoder.keras"),
                                   os.path.join(args.output_dir, "vit_mae"), scores={"knn_accuracy": after},
                                   format="vit_mae")
    print(f"exported {folder} (transformers.ViTMAEForPreTraining.from_pretrained loads it)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
