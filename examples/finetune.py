"""Fine-tune a pretrained encoder on a TFDS data set (MAE recipe: layer-wise
rate decay, drop path, MixUp/CutMix, label smoothing, warm-up + cosine).

    python examples/finetune.py --dataset=cifar100 --encoder=runs/cifar100/encoder.keras --epochs=100
"""

from keras_dsmae.cli.evaluate import finetune_main

if __name__ == "__main__":
    finetune_main()
