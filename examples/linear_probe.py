"""kNN and linear-probe accuracy of a pretrained encoder on a TFDS data set.

    python examples/linear_probe.py --dataset=cifar100 --encoder=runs/cifar100/encoder.keras
"""

from keras_dsmae.cli.evaluate import linear_probe_main

if __name__ == "__main__":
    linear_probe_main()
