"""Facts about training on two devices, measured in a fresh process (so
that the test suite keeps one device) and printed as one JSON line for
`tests/training/test_multi_device.py`.

    python two_device_probe.py tensorflow draws     # each replica's masks and noise
    python two_device_probe.py tensorflow losses    # one device vs two replicas, same masks (fit in scope)
    python two_device_probe.py tensorflow job DIR   # the pretraining job, distribution="mirrored"
    python two_device_probe.py jax losses N         # an epoch on N devices (DataParallel if N > 1)
    python two_device_probe.py jax job DIR          # the pretraining job, distribution="data_parallel"
    python two_device_probe.py BACKEND tuning DIR   # a one-trial KerasTuner search on two devices
    python two_device_probe.py jax process DIR I PORT  # process I of 2 (one device each) of one job

TensorFlow gets two logical CPUs, JAX two host devices.
"""

import json
import os
import signal
import sys
import tempfile

BACKEND, MODE = sys.argv[1], sys.argv[2]
ARGUMENT = sys.argv[3] if len(sys.argv) > 3 else None
os.environ["KERAS_BACKEND"] = BACKEND
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
if BACKEND == "jax":
    count = {"losses": ARGUMENT, "process": "1"}.get(MODE, "2")
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={count}"
if MODE == "process":  # read by keras.distribution.initialize
    os.environ.update(KERAS_DISTRIBUTION_JOB_ADDRESSES=f"127.0.0.1:{sys.argv[5]}",
                      KERAS_DISTRIBUTION_NUM_PROCESSES="2", KERAS_DISTRIBUTION_PROCESS_ID=sys.argv[4])

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

if BACKEND == "tensorflow":
    _cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(_cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
from keras import ops  # noqa: E402

import keras_dsmae  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from keras_dsmae.layers import DeviceAugmentation, GaussianPatchNoise, RandomMasking  # noqa: E402
from tests.helpers.builders import TINY, TINY_JOB  # noqa: E402

IMAGES = np.random.RandomState(0).normal(size=(16, 16, 16, 3)).astype("float32")


def content_scores(tokens):
    """Masking scores that depend only on each image's tokens, so that one
    device and several replicas hide the same patches of the same image."""
    return ops.sum(ops.sin(3.0 * tokens), axis=-1)


def _values(variable):
    return [np.asarray(v) for v in getattr(variable.value, "values", [variable.value])]


def tensorflow_draws():
    tokens = tf.zeros((4, 16, 8))
    images = tf.constant(np.random.RandomState(1).randint(0, 256, (4, 20, 20, 3)), tf.uint8)
    augmentation = dict(image_size=16, mean=(0.5,) * 3, std=(0.25,) * 3, seed=3)
    one_device = RandomMasking(0.75, seed=1)(tokens)["mask"].numpy()
    one_device_crops = DeviceAugmentation(**augmentation)(images, training=True).numpy()
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        masking, noise = RandomMasking(0.75, seed=1), GaussianPatchNoise(0.5, seed=2)
        augment = DeviceAugmentation(**augmentation)

    @tf.function
    def draw():
        return strategy.run(lambda: (masking(tokens)["mask"], noise(tokens), augment(images, training=True)))

    masks, noises, crops = (
        [t.numpy() for t in strategy.experimental_local_results(result)] for result in draw())
    return {
        "replicas": strategy.num_replicas_in_sync,
        "masks_differ": bool(np.any(masks[0] != masks[1])),
        "noise_differs": bool(np.any(noises[0] != noises[1])),
        "crops_differ": bool(np.abs(crops[0] - crops[1]).max() > 0.1),
        "replica_0_mask_is_one_device_mask": bool(np.array_equal(masks[0], one_device)),
        "replica_0_crops_are_one_device_crops": bool(np.allclose(crops[0], one_device_crops, atol=1e-5)),
    }


def _train_with_content_masks(scope):
    """Built, compiled and fitted inside `scope` (as Keras' distribution
    guide allows), with every callback of the package; returns the model,
    its loss history and the files the callbacks wrote."""
    folder = tempfile.mkdtemp(prefix="keras_dsmae_probe_")
    labelled = (IMAGES, np.arange(len(IMAGES)) % 2)
    with scope:
        keras.utils.set_random_seed(0)
        model = keras_dsmae.DSMAE(**TINY, noise_std=0.0, masks_per_image=2, seed=0)
        model.masking.scores = content_scores
        model.compile(optimizer=keras.optimizers.AdamW(1e-2))
        dataset = tf.data.Dataset.from_tensor_slices(IMAGES).batch(8)
        history = model.fit(dataset, epochs=2, verbose=0, callbacks=[
            keras_dsmae.callbacks.TeacherEMA(momentum_start=0.5, momentum_end=0.9),
            keras_dsmae.callbacks.KNNMonitor(labelled, labelled, k=3),
            keras_dsmae.callbacks.HistoryCSV(os.path.join(folder, "history.csv")),
            keras_dsmae.callbacks.RunCheckpoint(os.path.join(folder, "checkpoints")),
            keras_dsmae.callbacks.ReconstructionGrid(IMAGES[:4], os.path.join(folder, "grids"), every_n_epochs=1),
        ])
    files = sorted(os.path.relpath(os.path.join(root, name), folder)
                   for root, _, names in os.walk(folder) for name in names)
    losses = {k: v for k, v in history.history.items() if k != "val_knn_accuracy"}
    return model, losses, files


def tensorflow_losses():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    one, one_history, _ = _train_with_content_masks(tf.distribute.get_strategy().scope())
    two, two_history, files = _train_with_content_masks(strategy.scope())
    teacher_gap = max(float(np.abs(_values(a)[0] - r).max())
                      for a, b in zip(one.teacher.weights, two.teacher.weights) for r in _values(b))
    replica_gap = max(float(np.abs(_values(w)[0] - _values(w)[-1]).max()) for w in two.teacher.weights)
    return {"one_device": one_history, "two_replicas": two_history,
            "teacher_gap_to_one_device": teacher_gap, "teacher_gap_between_replicas": replica_gap,
            "ema_step": int(np.asarray(_values(two.ema_teacher.step)[0])), "files_in_scope": files}


def jax_losses():
    if int(ARGUMENT) > 1:
        keras.distribution.set_distribution(
            keras.distribution.DataParallel(devices=keras.distribution.list_devices()))
    keras.utils.set_random_seed(0)
    model = keras_dsmae.DSMAE(**TINY, masks_per_image=2, seed=0)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    history = model.fit(IMAGES, batch_size=8, epochs=1, verbose=0, shuffle=False,
                        callbacks=[keras_dsmae.callbacks.TeacherEMA()])
    return {
        "devices": len(keras.distribution.list_devices()),
        "losses": {k: v[0] for k, v in history.history.items() if k.endswith("loss")},
        "ema_step": int(ops.convert_to_numpy(model.ema_teacher.step.value)),
    }


def _job_settings():
    return dict(output_dir=ARGUMENT, preset="dsmae_vit_tiny_cifar", steps_per_epoch=2,
                batch_size=8, use_synthetic_data=True, synthetic_examples=32,
                model_overrides=TINY_JOB, mixed_precision="float32",
                reconstruction_every=1, verbose=0,
                distribution="mirrored" if BACKEND == "tensorflow" else "data_parallel")


def process():
    """One of two processes of a run; with a sixth argument "stop", process 1
    alone gets a SIGTERM after the first step (both must stop at one step)."""
    from keras_dsmae.cli.common import exit_on_failure
    from keras_dsmae.training import run_pretraining
    from tests.helpers.jobs import StepLog

    stop = sys.argv[6:] == ["stop"] and sys.argv[4] == "1"
    callbacks = [StepLog(f"{ARGUMENT}.steps_1", stop_at=(1, signal.SIGTERM))] if stop else []
    _, history = exit_on_failure(lambda: run_pretraining(
        "cifar10", epochs=2, extra_callbacks=callbacks, **{**_job_settings(), "distribution": "auto"}))
    return {"losses": history.history["loss"]}


def job():
    from keras_dsmae.training import run_pretraining

    common = _job_settings()
    try:
        run_pretraining("cifar10", **{**common, "batch_size": 7, "epochs": 1})
        odd_batch = None
    except ValueError as error:
        odd_batch = str(error)
    # Epoch 1 on one device, then the run resumes on two (the global batch
    # is the same): the checkpoint loads into the distributed variables.
    run_pretraining("cifar10", **{**common, "epochs": 1, "distribution": "none"})
    # On two devices, a SIGTERM after the first step of epoch 2 saves there and stops;
    # the rerun trains the rest of that epoch.
    from keras_dsmae.utils.stop_signals import RunPreempted
    from tests.helpers.jobs import StepLog

    stop = StepLog(f"{ARGUMENT}.steps", stop_at=(3, signal.SIGTERM))
    try:
        run_pretraining("cifar10", epochs=2, extra_callbacks=[stop], **common)
        preempted = None
    except RunPreempted as stopped:
        preempted = [stopped.exit_status, stopped.epoch, stopped.step, os.path.basename(stopped.checkpoint)]
    model, history = run_pretraining("cifar10", epochs=2, **common)
    with open(os.path.join(ARGUMENT, "run_config.json")) as file:
        config = json.load(file)
    return {"odd_batch_error": odd_batch, "preempted": preempted, "epochs_run_on_resume": len(history.history["loss"]),
            "distribution": config["distribution"], "num_devices": config["num_devices"],
            "loss": history.history["loss"][-1],
            "ema_step": int(np.asarray(_values(model.ema_teacher.step)[0]))}


def tuning():
    from keras_dsmae.tuning.search import run_search

    search = run_search(
        "cifar10", max_trials=1, epochs=1, steps_per_epoch=2, batch_size=8,
        knn_reference_examples=16, knn_query_examples=8, directory=ARGUMENT,
        use_synthetic_data=True, model_overrides=TINY_JOB,
        distribution="mirrored" if BACKEND == "tensorflow" else "data_parallel", verbose=0)
    trials = list(search.oracle.trials.values())
    return {"statuses": [t.status for t in trials], "score": trials[0].score}


if __name__ == "__main__":
    facts = {("tensorflow", "draws"): tensorflow_draws, ("tensorflow", "losses"): tensorflow_losses,
             ("jax", "losses"): jax_losses, ("tensorflow", "tuning"): tuning,
             ("jax", "tuning"): tuning, ("jax", "process"): process}.get((BACKEND, MODE), job)()
    print(json.dumps(facts))
