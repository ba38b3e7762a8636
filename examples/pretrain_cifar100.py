"""Pretrain DSD-MAE on CIFAR-100 (flags: --helpfull; offline: --use_synthetic_data).

    python examples/pretrain_cifar100.py --epochs=100 --output_dir=runs/cifar100
"""

from keras_dsmae.cli.pretrain import pretraining_main

if __name__ == "__main__":
    pretraining_main("cifar100")
