"""Run in a fresh process with two devices (`python two_device_probe.py
tensorflow|jax`); prints one JSON line of facts that
`tests/test_multi_device.py` checks.

tensorflow: two logical CPUs under `tf.distribute.MirroredStrategy`; the
    masks and noise each replica draws, and what one device draws.
jax: two host devices under `keras.distribution.DataParallel`; the losses
    of one epoch, to compare with a one-device run of the same seed.
"""

import json
import os
import sys

BACKEND = sys.argv[1]
DEVICES = int(sys.argv[2]) if len(sys.argv) > 2 else 2
os.environ["KERAS_BACKEND"] = BACKEND
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
if BACKEND == "jax":
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={DEVICES}"

import numpy as np  # noqa: E402

TINY = dict(image_size=16, patch_size=4, encoder_dim=32, encoder_depth=2, encoder_heads=2,
            decoder_dim=32, decoder_depth=1, decoder_heads=2, mlp_ratio=2.0, seed=0)


def tensorflow_facts():
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from keras_dsmae.layers import GaussianPatchNoise, RandomMasking

    tokens = tf.zeros((4, 16, 8))
    one_device = RandomMasking(0.75, seed=1)(tokens)["mask"].numpy()
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        masking, noise = RandomMasking(0.75, seed=1), GaussianPatchNoise(0.5, seed=2)

    @tf.function
    def draw():
        return strategy.run(lambda: (masking(tokens)["mask"], noise(tokens)))

    masks, noises = draw()
    masks = [m.numpy() for m in strategy.experimental_local_results(masks)]
    noises = [n.numpy() for n in strategy.experimental_local_results(noises)]
    return {
        "replicas": strategy.num_replicas_in_sync,
        "masks_differ": bool(np.any(masks[0] != masks[1])),
        "noise_differs": bool(np.any(noises[0] != noises[1])),
        "replica_0_mask_is_one_device_mask": bool(np.array_equal(masks[0], one_device)),
    }


def jax_facts():
    import keras

    import keras_dsmae

    if DEVICES > 1:
        keras.distribution.set_distribution(
            keras.distribution.DataParallel(devices=keras.distribution.list_devices()))
    keras.utils.set_random_seed(0)
    images = np.random.RandomState(0).normal(size=(16, 16, 16, 3)).astype("float32")
    model = keras_dsmae.DSMAE(**TINY)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    history = model.fit(images, batch_size=8, epochs=1, verbose=0, shuffle=False,
                        callbacks=[keras_dsmae.callbacks.TeacherEMA()])
    return {
        "devices": len(keras.distribution.list_devices()),
        "losses": {k: v[0] for k, v in history.history.items() if k.endswith("loss")},
        "ema_step": int(keras.ops.convert_to_numpy(model.ema_teacher.step.value)),
    }


if __name__ == "__main__":
    print(json.dumps(tensorflow_facts() if BACKEND == "tensorflow" else jax_facts()))
