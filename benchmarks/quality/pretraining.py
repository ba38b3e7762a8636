"""A row's encoders: pretrained by the package's job (`run_pretraining`) into
`<output_dir>/runs/<row>_seed<seed>/`, or the two rows without pretraining.

The run folder is the cache: a rerun with the same settings finds the run
finished (the job trains no more), a killed run resumes from its last
checkpoint, and a run whose settings changed is started again.
"""

import json
import os
import shutil
import time

import keras

import keras_dsmae
from keras_dsmae.training import run_pretraining
from keras_dsmae.training.run_config import ConfigMismatch
from keras_dsmae.utils.atomic_write import write_json

TRACE_FILE = "loss_trace.json"


class LossTrace(keras.callbacks.Callback):
    """Every 10th step: the global step and the epoch's running-mean losses."""

    def __init__(self):
        super().__init__()
        self.trace, self.step = [], 0

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step % 10 == 0:
            self.trace.append({"step": self.step, **{k: float(v) for k, v in (logs or {}).items()}})


def run_folder(budget, ablation, seed):
    return os.path.join(budget.output_dir, "runs", budget.run_name(ablation, seed))


def pretrained(budget, ablation, seed, train_file, train_count, normalization):
    """`(encoder, teacher or None, trace, minutes, trained)` of a pretrained
    row at `seed` (on the `train_count` images of `train_file`): float32
    encoders, the loss trace (every 10th step), the pretraining minutes,
    and whether this call trained (else the finished run was found)."""
    folder = run_folder(budget, ablation, seed)
    trace_path = os.path.join(folder, TRACE_FILE)
    job = budget.job(ablation, seed, train_file, train_count, normalization, folder)
    trace, start = LossTrace(), time.time()
    try:
        model, history = run_pretraining(job, extra_callbacks=[trace], verbose=2)
    except ConfigMismatch as mismatch:
        print(f"  {folder} was pretrained with other settings ({mismatch}); pretraining again", flush=True)
        shutil.rmtree(folder)
        model, history = run_pretraining(job, extra_callbacks=[trace], verbose=2)
    trained = bool(history.history)
    if trained or not os.path.exists(trace_path):
        write_json(trace_path, {"trace": trace.trace, "minutes": (time.time() - start) / 60})
    with open(trace_path) as file:
        recorded = json.load(file)
    if not trained:
        print(f"  run already finished: {folder} ({recorded['minutes']:.1f} min of pretraining)", flush=True)
    encoders = [model.encoder, model.teacher]
    if budget.mixed_precision != "float32":
        encoders = [None if encoder is None else float32_copy(encoder) for encoder in encoders]
    return encoders[0], encoders[1], recorded["trace"], recorded["minutes"], trained


def float32_copy(encoder):
    """The same weights in a float32 encoder, for evaluation."""
    copy = keras_dsmae.models.ViTEncoder.from_config({**encoder.get_config(), "dtype": "float32"})
    copy.build((None, *encoder.image_size, encoder.num_channels))
    copy.set_weights(encoder.get_weights())
    return copy


def random_encoder(budget, ablation, seed):
    """The row's ViT at random initialisation (`seed`)."""
    keras.utils.set_random_seed(seed)
    arguments = {**budget.model_arguments(ablation), "noise_std": 0.0, "loss_weight": 0.0}
    return keras_dsmae.DSMAE(**arguments, seed=seed).encoder


def pixels_model():
    """Images → their flattened normalised pixels (the raw-pixels row)."""
    inputs = keras.Input((28, 28, 1))
    return keras.Model(inputs, keras.layers.Flatten()(inputs), name="raw_pixels")
