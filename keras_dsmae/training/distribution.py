"""Data-parallel training on the engines each backend already has.

| `distribution`  | backend    | engine                                            |
|-----------------|------------|---------------------------------------------------|
| `mirrored`      | TensorFlow | `tf.distribute.MirroredStrategy` (one host)       |
| `multi_worker`  | TensorFlow | refused: Keras 3's `fit` fails under `MultiWorkerMirroredStrategy` |
| `data_parallel` | JAX        | `keras.distribution.DataParallel` over all devices of all processes (`KERAS_DISTRIBUTION_*` variables: `keras.distribution.initialize` first) |
| `none`          | any        | one device                                        |
| `auto`          | any        | the above that fits the visible devices           |

PyTorch: Keras 3's `fit` has no `torch.distributed` (DDP) path, so only
`none` is offered there; asking for another raises a `ValueError`.

Several TensorFlow hosts (`multi_worker`, or `auto` with a multi-worker
`TF_CONFIG`) raise a `ValueError` too: with Keras 3 (3.15, TF 2.21) `fit`
fails in the collective reduction of its logs under
`MultiWorkerMirroredStrategy` ("Invalid reduction dimension 0 for input
with 0 dimensions", tensorflow/tensorflow#72388; reproduced here with two
local workers). Several hosts train on JAX (`data_parallel`).
"""

import contextlib
import dataclasses
import json
import os
import warnings

import keras

from keras_dsmae.utils import validation

_JOB_ADDRESSES = "KERAS_DISTRIBUTION_JOB_ADDRESSES"  # set: several JAX processes
DISTRIBUTIONS = ("auto", "none", "mirrored", "multi_worker", "data_parallel")
AVAILABLE = {
    "tensorflow": ("none", "mirrored"),
    "jax": ("none", "data_parallel"),
    "torch": ("none",),
}


@dataclasses.dataclass
class Distribution:
    """A resolved distribution.

    Attributes:
        name: `"none"`, `"mirrored"`, `"multi_worker"` or `"data_parallel"`.
        num_devices: devices (replicas) that share each global batch.
        is_chief: whether this process writes the run's files (the first
            worker or process; always True on one host).
        scope: zero-argument callable returning the context in which the
            model and its optimizer are built and compiled.
        fit_scope: the same for `fit` (TensorFlow trains outside the
            strategy's scope, as its documentation shows; callbacks read
            variables there; JAX shards each batch inside it).
        strategy: the `tf.distribute.Strategy` on TensorFlow (for
            KerasTuner's `distribution_strategy`), else None.
        num_processes, process_index: the processes (hosts) that train
            together, and this one's place among them.
    """

    name: str
    num_devices: int
    is_chief: bool
    scope: callable
    fit_scope: callable = contextlib.nullcontext
    strategy: object = None
    num_processes: int = 1
    process_index: int = 0

    def input_shard(self, batch_size):
        """`(shard, per-process batch)` for this process's input pipeline:
        with several processes each reads its own `(num_processes, index)`
        share of the data (split before decoding) in batches of
        `batch_size / num_processes`; else `(None, batch_size)`."""
        if self.num_processes == 1:
            return None, batch_size
        if batch_size % self.num_processes:
            raise ValueError(
                f"`batch_size` is the global batch and must split evenly over the "
                f"{self.num_processes} processes; got batch_size={batch_size}."
            )
        return (self.num_processes, self.process_index), batch_size // self.num_processes


def _tf_config_workers():
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    cluster = config.get("cluster", {})
    return sum(len(cluster.get(kind, [])) for kind in ("chief", "worker"))


def _auto(backend):
    if backend == "tensorflow":
        if _tf_config_workers() > 1:
            return "multi_worker"
        import tensorflow as tf

        return "mirrored" if len(tf.config.list_logical_devices("GPU")) > 1 else "none"
    if backend == "jax":
        if os.environ.get(_JOB_ADDRESSES):  # several processes; listing devices now would
            return "data_parallel"          # start JAX before they can join
        return "data_parallel" if len(keras.distribution.list_devices()) > 1 else "none"
    import torch

    if torch.cuda.device_count() > 1:
        warnings.warn(
            f"{torch.cuda.device_count()} GPUs are visible, but the torch backend trains on one "
            "(Keras' fit has no DDP path); use the tensorflow or jax backend for all of them.",
            stacklevel=3,
        )
    return "none"


def _tensorflow_mirrored():
    import tensorflow as tf

    strategy = tf.distribute.MirroredStrategy()
    return Distribution("mirrored", strategy.num_replicas_in_sync, True, strategy.scope,
                        strategy=strategy)


_processes_joined = []


def _jax_data_parallel():
    import jax

    if os.environ.get(_JOB_ADDRESSES) and not _processes_joined:
        # Several processes (hosts): join them before JAX touches a device.
        # keras.distribution.initialize reads KERAS_DISTRIBUTION_JOB_ADDRESSES,
        # KERAS_DISTRIBUTION_NUM_PROCESSES and KERAS_DISTRIBUTION_PROCESS_ID.
        keras.distribution.initialize()
        _processes_joined.append(True)
    devices = keras.distribution.list_devices()
    # Several processes read their own share of the files (`input_shard`)
    # instead of each decoding every batch and keeping one part of it.
    data_parallel = keras.distribution.DataParallel(
        devices=devices, auto_shard_dataset=jax.process_count() == 1)
    return Distribution("data_parallel", len(devices), jax.process_index() == 0,
                        data_parallel.scope, data_parallel.scope,
                        num_processes=jax.process_count(), process_index=jax.process_index())


def resolve_distribution(name="auto", batch_size=None):
    """The `Distribution` called `name` on the current backend.

    Args:
        name: one of `DISTRIBUTIONS`; `"auto"` takes `mirrored` with several
            GPUs on TensorFlow, `data_parallel` with several JAX devices or
            processes, and `none` otherwise (a multi-worker `TF_CONFIG` is
            refused, see the module docstring).
        batch_size: the global batch, if it should be checked to split
            evenly over the devices.

    Raises:
        ValueError: `name` is unknown or not available on this backend, or
            `batch_size` does not split evenly.
    """
    validation.check_choice("distribution", name, DISTRIBUTIONS)
    backend = keras.backend.backend()
    requested = name
    if name == "auto":
        name = _auto(backend)
    if name == "multi_worker":
        raise ValueError(
            "`distribution`='multi_worker' (several TensorFlow hosts"
            + (", chosen by auto from TF_CONFIG" if name != requested else "")
            + ") is not supported: Keras 3's fit fails under MultiWorkerMirroredStrategy "
            "(tensorflow/tensorflow#72388). Train on one host with distribution='mirrored', "
            "or on several hosts with the JAX backend and distribution='data_parallel'."
        )
    if name not in AVAILABLE[backend]:
        hint = (" Keras' fit has no torch.distributed (DDP) path; for several devices use the "
                "tensorflow (mirrored, multi_worker) or jax (data_parallel) backend."
                if backend == "torch" else "")
        raise ValueError(
            f"`distribution`={name!r} is not available on the {backend} backend. Allowed "
            f"there: {', '.join(AVAILABLE[backend])} (or auto).{hint}"
        )
    if name == "none":
        return Distribution("none", 1, True, contextlib.nullcontext)
    distributed = _tensorflow_mirrored() if backend == "tensorflow" else _jax_data_parallel()
    if batch_size is not None and batch_size % distributed.num_devices:
        raise ValueError(
            f"`batch_size` is the global batch and must split evenly over the "
            f"{distributed.num_devices} devices of distribution={distributed.name!r}; got "
            f"batch_size={batch_size}. Allowed: a multiple of {distributed.num_devices}."
        )
    return distributed
