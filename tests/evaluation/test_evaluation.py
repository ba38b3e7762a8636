"""kNN, linear probe, KNNMonitor, layer-wise decay and fine-tuning."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_dsmae
from keras_dsmae.evaluation import (extract_features, fine_tune, knn_accuracy, knn_predict,
                                    linear_probe, mixing_augmentation)
from keras_dsmae.evaluation.fine_tune import training_batches
from keras_dsmae.optimizers import LayerwiseDecayAdamW, layer_index
from tests.helpers.builders import tiny_model, to_numpy


def two_class_images(count, size=16, channels=3, seed=0, noise=0.3):
    """Class 0: bright left half; class 1: bright right half; plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    images = rng.normal(0, noise, (count, size, size, channels)).astype("float32")
    half = size // 2
    images[labels == 0, :, :half] += 1.0
    images[labels == 1, :, half:] += 1.0
    return images, labels


def flatten_encoder(size=16, channels=3):
    return keras.Sequential([keras.Input((size, size, channels)), keras.layers.Flatten()])


def test_knn_votes_are_weighted_by_temperature():
    # one close neighbour of class 0, two farther ones of class 1
    train = np.array([[1.0, 0.1], [1.0, 0.6], [1.0, -0.6]], "float32")
    labels = np.array([0, 1, 1])
    query = np.array([[1.0, 0.0]], "float32")
    sharp = knn_predict(train, labels, query, num_classes=2, k=3, temperature=0.01)
    flat = knn_predict(train, labels, query, num_classes=2, k=3, temperature=100.0)
    assert sharp.tolist() == [0] and flat.tolist() == [1]


def test_knn_accuracy_is_perfect_on_separable_data_and_chance_on_shuffled_labels():
    (x, y), (xt, yt) = two_class_images(200, seed=0), two_class_images(100, seed=1)
    encoder = flatten_encoder()
    assert knn_accuracy(encoder, (x, y), (xt, yt), k=5) == 1.0
    shuffled = np.random.default_rng(2).permutation(y)
    assert 0.3 < knn_accuracy(encoder, (x, shuffled), (xt, yt), k=5) < 0.7


def test_linear_probe_separates_linearly_separable_features():
    (x, y), (xt, yt) = two_class_images(256, seed=0, noise=1.0), two_class_images(128, seed=1, noise=1.0)
    assert linear_probe(flatten_encoder(), (x, y), (xt, yt), epochs=20, batch_size=64) > 0.95


def offset_feature_encoder(size=16, channels=3, offset=5.0, scale=0.01):
    """Features `offset + scale × flattened image`: far from zero mean and with
    a tiny variance (2e-4 here), as real encoder features often are."""
    dim = size * size * channels
    dense = keras.layers.Dense(dim, kernel_initializer=keras.initializers.Identity(scale),
                               bias_initializer=keras.initializers.Constant(offset))
    return keras.Sequential([keras.Input((size, size, channels)), keras.layers.Flatten(), dense])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_linear_probe_is_right_with_few_examples_and_few_steps(seed):
    # 16 images, 2 epochs of 2 steps: far too few for BatchNormalization's
    # moving statistics to reach the features' own (variance 2e-4 around 5).
    (x, y), (xt, yt) = two_class_images(16, seed=seed, noise=0.1), two_class_images(64, seed=seed + 10, noise=0.1)
    encoder = offset_feature_encoder()
    assert knn_accuracy(encoder, (x, y), (xt, yt), k=3) == 1.0
    assert linear_probe(encoder, (x, y), (xt, yt), epochs=2, batch_size=8, seed=seed) > 0.95


def test_features_from_tokens_and_from_a_tf_dataset():
    encoder = keras_dsmae.ViTEncoder(image_size=16, patch_size=4, hidden_dim=16, depth=1, num_heads=2)
    x, y = two_class_images(10)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    features, labels = extract_features(encoder, dataset)
    assert features.shape == (10, 16) and labels.tolist() == y.tolist()
    tokens = to_numpy(encoder(x))  # (10, 1 + 16, 16)
    np.testing.assert_allclose(features, tokens[:, 1:].mean(axis=1), atol=1e-5)
    cls, _ = extract_features(encoder, (x, y), pooling="cls")
    np.testing.assert_allclose(cls, tokens[:, 0], atol=1e-5)
    with pytest.raises(ValueError, match="pooling"):
        extract_features(encoder, (x, y), pooling="max")
    with pytest.raises(ValueError, match="same length"):
        extract_features(encoder, (x, y[:3]))


def test_the_last_two_blocks_average_is_probed_from_the_block_outputs():
    encoder = keras_dsmae.ViTEncoder(image_size=16, patch_size=4, hidden_dim=16, depth=3, num_heads=2)
    x, y = two_class_images(6)
    features, _ = extract_features(encoder, (x, y), batch_size=4, pooling="mean_last2")
    blocks = encoder.block_outputs(encoder.embed(encoder.patchify(keras.ops.convert_to_tensor(x))))
    normed = [to_numpy(encoder.final_norm(b))[:, 1:] for b in blocks]
    np.testing.assert_allclose(features, ((normed[1] + normed[2]) / 2).mean(axis=1), atol=1e-5)
    last_only, _ = extract_features(encoder, (x, y))
    np.testing.assert_allclose(last_only, normed[2].mean(axis=1), atol=1e-5)
    assert np.abs(features - last_only).max() > 1e-3
    flat = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Flatten()])
    with pytest.raises(ValueError, match=r"mean_last2.*ViTEncoder.*Sequential"):
        extract_features(flat, (x, y), pooling="mean_last2")


def test_knn_monitor_logs_validation_accuracy_into_fit_history():
    x, y = two_class_images(32)
    model = tiny_model(seed=0)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    monitor = keras_dsmae.callbacks.KNNMonitor((x, y), (x[:16], y[:16]), k=3, every_n_epochs=2)
    history = model.fit(x, epochs=3, batch_size=16, verbose=0,
                        callbacks=[keras_dsmae.callbacks.TeacherEMA(), monitor]).history
    # evaluated at epoch 2 and (always) at the last epoch
    assert len(history["val_knn_accuracy"]) == 2
    assert all(0.0 <= a <= 1.0 for a in history["val_knn_accuracy"])
    with pytest.raises(ValueError, match="every_n_epochs"):
        keras_dsmae.callbacks.KNNMonitor((x, y), (x, y), every_n_epochs=0)


def test_layer_index_orders_embeddings_blocks_and_head():
    assert layer_index("vit_classifier/encoder/patch_embedding/projection/kernel", 4) == 0
    assert layer_index("encoder/cls_token", 4) == 0
    assert layer_index("encoder/block_0/mlp_hidden/kernel", 4) == 1
    assert layer_index("encoder/block_3/attention/qkv/kernel", 4) == 4
    assert layer_index("head/kernel", 4) == 5


def test_layerwise_decay_scales_each_layers_first_adam_step():
    encoder = keras_dsmae.ViTEncoder(**{"image_size": 16, "patch_size": 4, "hidden_dim": 16,
                                        "depth": 2, "num_heads": 2})
    model = keras_dsmae.build_classifier(encoder, num_classes=2, drop_path_rate=0.0)
    optimizer = LayerwiseDecayAdamW(depth=2, layer_decay=0.5, learning_rate=1e-2, weight_decay=0.0,
                                    epsilon=1e-15)  # tiny gradients reach the blocks
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = {v.path: to_numpy(v) for v in model.trainable_variables}
    x, y = two_class_images(8)
    model.train_on_batch(x, y)
    steps = {}
    for v in model.trainable_variables:
        change = np.abs(to_numpy(v) - before[v.path])
        steps[v.path] = change.max()
    # Adam's first step moves each weight by about lr × scale (|update| ≤ lr·scale)
    head = [s for p, s in steps.items() if p.endswith("head/kernel")][0]
    block0 = [s for p, s in steps.items() if "block_0/mlp_output/kernel" in p][0]
    embedding = [s for p, s in steps.items() if "patch_embedding/projection/kernel" in p][0]
    assert head == pytest.approx(1e-2, rel=0.05)
    assert block0 == pytest.approx(1e-2 * 0.5**2, rel=0.05)
    assert embedding == pytest.approx(1e-2 * 0.5**3, rel=0.05)


def test_classifier_starts_from_the_pretrained_weights():
    encoder = keras_dsmae.ViTEncoder(image_size=16, patch_size=4, hidden_dim=16, depth=2, num_heads=2)
    x, _ = two_class_images(4)
    model = keras_dsmae.build_classifier(encoder, num_classes=3, drop_path_rate=0.2)
    backbone = model.get_layer("encoder")
    assert backbone.drop_path_rate == 0.2 and backbone.pooling == "mean"
    np.testing.assert_allclose(to_numpy(backbone(x)), to_numpy(encoder(x))[:, 1:].mean(axis=1), atol=1e-5)
    assert model(x).shape == (4, 3)
    with pytest.raises(ValueError, match="num_classes"):
        keras_dsmae.build_classifier(encoder, num_classes=1)
    with pytest.raises(ValueError, match="encoder"):
        keras_dsmae.build_classifier(keras.Sequential([keras.layers.Flatten()]), num_classes=2)


def test_mixing_gives_soft_labels_that_sum_to_one():
    x, y = two_class_images(8)
    images, labels = mixing_augmentation(2, mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.1)(
        tf.constant(x), tf.constant(y), tf.constant([1, 2]))
    labels = labels.numpy()
    assert images.shape == x.shape
    np.testing.assert_allclose(labels.sum(axis=1), 1.0, atol=1e-5)
    assert labels.min() >= 0.05 - 1e-6  # smoothing puts ε / K on every class


def test_fine_tune_learns_an_easy_task():
    train, test = two_class_images(256, seed=0), two_class_images(64, seed=1)
    encoder = keras_dsmae.ViTEncoder(image_size=16, patch_size=4, hidden_dim=32, depth=2, num_heads=2, seed=0)
    result = fine_tune(encoder, train, test, num_classes=2, epochs=5, batch_size=32, learning_rate=1e-2,
                       warmup_epochs=0.5, mixup_alpha=0.0, cutmix_alpha=0.0, verbose=0)
    losses = result.history.history["loss"]
    assert losses[-1] < 0.7 * losses[0]
    assert result.accuracy > 0.9
    assert result.model.output_shape == (None, 2)


def test_evaluation_refuses_labels_outside_the_classes_before_any_work():
    x, y = two_class_images(16)
    four = np.arange(16) % 4
    encoder = flatten_encoder()
    vit = keras_dsmae.ViTEncoder(**{"image_size": 16, "patch_size": 4, "hidden_dim": 16, "depth": 1, "num_heads": 2})
    with pytest.raises(ValueError, match=r"num_classes=2.*label 3"):
        fine_tune(vit, (x, four), (x, y), num_classes=2, epochs=1, batch_size=8)
    with pytest.raises(ValueError, match=r"num_classes.*>= 2.*num_classes=0"):
        fine_tune(vit, (x, y), (x, y), num_classes=0, epochs=1)
    with pytest.raises(ValueError, match=r"labels.*integer class indices >= 0.*-1"):
        knn_accuracy(encoder, (x, y - 1), (x, y))
    with pytest.raises(ValueError, match=r"num_classes=0"):
        knn_accuracy(encoder, (x, y), (x, y), num_classes=0)
    with pytest.raises(ValueError, match=r"num_classes=2.*label 3"):
        linear_probe(encoder, (x, four), (x, y), num_classes=2, epochs=1)
    with pytest.raises(ValueError, match=r"labels.*integer class indices.*'cat'"):
        knn_accuracy(encoder, (x, np.array(["cat"] * 16)), (x, y))


def test_fine_tune_stops_at_a_dataset_label_outside_the_classes():
    x, _ = two_class_images(16)
    labels = np.arange(16) % 4
    train = tf.data.Dataset.from_tensor_slices((x, labels)).batch(8)
    vit = keras_dsmae.ViTEncoder(**{"image_size": 16, "patch_size": 4, "hidden_dim": 16, "depth": 1, "num_heads": 2})
    with pytest.raises(Exception, match=r"num_classes=2"):
        fine_tune(vit, train, train, num_classes=2, epochs=1, batch_size=8, verbose=0)


def read_batches(dataset):
    return [(to_numpy(images), to_numpy(labels)) for images, labels in dataset]


def assert_same_batches(first, second):
    assert len(first) == len(second)
    for (images_a, labels_a), (images_b, labels_b) in zip(first, second):
        np.testing.assert_array_equal(images_a, images_b)
        np.testing.assert_array_equal(labels_a, labels_b)


def mixed_training_batches(source, seed=3):
    x, y = two_class_images(64, seed=0)
    if source == "pipeline":
        train = keras_dsmae.data.from_arrays((x * 255).astype("uint8"), y.astype("int64"), batch_size=8,
                                             crop_scale=(0.5, 1.0), seed=seed)
    else:
        train = (x, y)
    return training_batches(train, 2, 8, 0.8, 1.0, 0.1, seed)[0]


@pytest.mark.parametrize("source", ["arrays", "pipeline"])
def test_fine_tuning_mixing_is_set_by_the_seed_not_by_iterators_opened_before(source):
    # Keras' fit may open an iterator and drop it, and its prefetching runs
    # ahead by a number of batches that depends on timing: the mixing drawn
    # for an epoch must not depend on how far an earlier iterator got.
    passes = []
    for abandoned_after in (1, 4):
        dataset = mixed_training_batches(source)
        iterator = iter(dataset)
        for _ in range(abandoned_after):
            next(iterator)
        del iterator
        passes.append(read_batches(dataset))
    assert_same_batches(*passes)


def test_fine_tuning_mixing_changes_with_the_epoch_and_the_seed():
    dataset = mixed_training_batches("arrays")
    first_epoch, second_epoch = read_batches(dataset), read_batches(dataset)
    other_seed = read_batches(mixed_training_batches("arrays", seed=4))
    for other in (second_epoch, other_seed):
        assert not all(np.array_equal(a[1], b[1]) for a, b in zip(first_epoch, other))


@pytest.mark.parametrize("mixup_alpha, cutmix_alpha", [(0.8, 0.0), (0.0, 1.0)])
def test_mixed_labels_weigh_each_class_by_its_share_of_the_pixels(mixup_alpha, cutmix_alpha):
    # Image i is constant at value i and has label i, so after mixing its mean
    # value is the label-weighted mean of the classes it was mixed from.
    classes = 8
    images = tf.broadcast_to(tf.range(classes, dtype=tf.float32)[:, None, None, None], (classes, 16, 16, 1))
    augment = mixing_augmentation(classes, mixup_alpha, cutmix_alpha, label_smoothing=0.0)
    mixed_images = 0
    for seed in range(5):
        mixed, labels = augment(images, tf.range(classes), tf.constant([seed, 7]))
        mixed, labels = mixed.numpy(), labels.numpy()
        np.testing.assert_allclose(mixed.mean(axis=(1, 2, 3)), labels @ np.arange(classes), atol=1e-4)
        mixed_images += int((labels.max(axis=1) < 1.0 - 1e-6).sum())
    assert mixed_images > 0  # mixing happened at all
