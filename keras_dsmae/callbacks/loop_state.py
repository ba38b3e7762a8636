"""The parts of a training run's state that `model.save_weights` leaves
out but an exact resume needs: the random streams of the model's layers
(`keras.random.SeedGenerator` states: masks, noise, drop path, device
crops) and, mid-epoch, the running epoch metrics (the loss mean so far).
Kept as JSON next to the weights."""

import contextlib

import keras
import numpy as np


def _seed_generators(model):
    """`{name: SeedGenerator}` of every layer of `model`, named by layer path
    below the model (the model's own name differs between processes that
    made other models first)."""
    found, seen = {}, set()
    for layer in model._flatten_layers(include_self=True):
        path, prefix = layer.path or layer.name, model.path or model.name
        relative = path[len(prefix):].lstrip("/") if path.startswith(prefix) else path
        for index, generator in enumerate(getattr(layer, "_seed_generators", ())):
            if id(generator) not in seen:
                seen.add(id(generator))
                found[f"{relative}/{index}"] = generator
    return found


def _values(variables):
    return [np.asarray(keras.ops.convert_to_numpy(variable)).tolist() for variable in variables]


def seed_states(model):
    """`{name: state list}` of the model's random streams."""
    return {name: _values([generator.state])[0] for name, generator in _seed_generators(model).items()}


def set_seed_states(model, states):
    """Put recorded `seed_states` back; streams the record lacks keep theirs.

    Returns:
        the names of the model's streams that were not in `states`.
    """
    missing = []
    for name, generator in _seed_generators(model).items():
        if name in states:
            generator.state.assign(np.asarray(states[name], dtype=generator.state.dtype))
        else:
            missing.append(name)
    return missing


def metric_values(model):
    """The values of `model.metrics_variables` (lists)."""
    return _values(model.metrics_variables)


def set_metric_values(model, values):
    """Put recorded `metric_values` back (`ValueError` when they do not match)."""
    variables = model.metrics_variables
    if len(values) != len(variables):
        raise ValueError(f"{len(values)} recorded metric values for {len(variables)} metric variables")
    for variable, value in zip(variables, values):
        variable.assign(np.asarray(value, dtype=variable.dtype).reshape(variable.shape))


@contextlib.contextmanager
def random_streams_kept(model):
    """Let the block call `model` (pictures, probes) without moving its
    random streams: training then draws the same masks and noise whether
    or not, and how often, the block ran."""
    states = seed_states(model)
    try:
        yield
    finally:
        set_seed_states(model, states)
