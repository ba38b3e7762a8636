"""Your own images, end to end: pretrain a small DSD-MAE on them, score its
encoder, export it as a Hugging Face ViT folder and load that in
transformers, in a few minutes on a CPU.

    python examples/own_images_end_to_end.py --images=/data/flowers --output_dir=runs/flowers

`--images` holds `train/<class>/...` and `test/<class>/...` image files of
any format and size (pretraining reads `train/` without its labels; the
labels only score the encoder: kNN and a linear probe). Rerunning the same
command resumes the pretraining where it stopped.
"""

import argparse
import os
import sys

import keras
import numpy as np

from keras_dsmae import ViTEncoder, data, evaluation
from keras_dsmae.training import PretrainingConfig, run_pretraining
from keras_dsmae.training.export import export_encoder_folder

# A small ViT, so that a CPU pretrains it in minutes (the presets are ViT-Tiny and up).
SMALL = dict(encoder_dim=64, encoder_depth=4, encoder_heads=2, decoder_dim=64, decoder_depth=1, decoder_heads=2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", required=True, help="folder with train/<class>/ and test/<class>/")
    parser.add_argument("--output_dir", required=True, help="the run folder; the export goes to <it>/hf_vit")
    parser.add_argument("--image_size", type=int, default=32, help="side the images are resized to")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--steps_per_epoch", type=int, default=None, help="default: one pass")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--probe_epochs", type=int, default=30)
    parser.add_argument("--knn_k", type=int, default=10, help="neighbours of the kNN score")
    parser.add_argument("--encoder_depth", type=int, default=SMALL["encoder_depth"], help="encoder blocks")
    parser.add_argument("--mixed_precision", default="auto", choices=("auto", "float32", "bfloat16", "float16"),
                        help="the pretraining's precision (auto: bfloat16 where the hardware has it)")
    args = parser.parse_args(argv)
    for split in ("train", "test"):
        if not os.path.isdir(os.path.join(args.images, split)):
            parser.error(f"--images {args.images!r} has no {split}/ folder of class folders")

    # 1. Pretrain on the training images (the labels are not used).
    config = PretrainingConfig(
        dataset=f"folder:{os.path.join(args.images, 'train')}", preset="dsmae_vit_tiny_cifar",
        image_size=args.image_size, model_overrides={**SMALL, "encoder_depth": args.encoder_depth}, epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch, batch_size=args.batch_size, warmup_epochs=min(2, args.epochs),
        output_dir=args.output_dir, reconstruction_every=max(args.epochs // 4, 1),
        mixed_precision=args.mixed_precision)
    model, _ = run_pretraining(config, verbose=2)
    encoder = model.encoder

    # 2. Score the encoder with the labels: kNN and a linear probe on frozen features.
    train, test, num_classes, _ = data.evaluation_splits(
        f"folder:{args.images}", image_size=encoder.image_size, num_channels=encoder.num_channels,
        batch_size=args.batch_size)
    knn = evaluation.knn_accuracy(encoder, train, test, k=args.knn_k, num_classes=num_classes)
    linear = evaluation.linear_probe(encoder, train, test, epochs=args.probe_epochs, num_classes=num_classes)
    print(f"kNN accuracy {knn:.3f}, linear-probe accuracy {linear:.3f}", flush=True)

    # 3. Export: a Hugging Face ViT folder with the run's preprocessing and a model card.
    folder = export_encoder_folder(os.path.join(args.output_dir, "encoder.keras"),
                                   os.path.join(args.output_dir, "hf_vit"),
                                   scores={"knn_accuracy": knn, "linear_probe_accuracy": linear})
    print(f"exported {folder}", flush=True)

    # 4. Load it where most ViT fine-tuning happens, and check it computes what Keras does.
    images = np.concatenate([batch for batch, _ in test.take(1).as_numpy_iterator()])
    keras_tokens = keras.ops.convert_to_numpy(ViTEncoder.from_pretrained_vit(folder)(images))
    try:
        import torch
        from transformers import ViTModel
    except ImportError:
        print("transformers is not installed (pip install 'keras_dsmae[export]'): skipped loading it there")
        return 0
    vit = ViTModel.from_pretrained(folder, add_pooling_layer=False).eval()
    with torch.no_grad():
        tokens = vit(pixel_values=torch.from_numpy(images.transpose(0, 3, 1, 2))).last_hidden_state.numpy()
    difference = float(np.abs(tokens - keras_tokens).max())
    print(f"transformers.ViTModel loads {folder}: tokens {tokens.shape}, largest difference from Keras "
          f"{difference:.1e}", flush=True)
    return 0 if difference < 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main())
