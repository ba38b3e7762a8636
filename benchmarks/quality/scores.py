"""A row's scores: kNN, linear probe and fine-tuning accuracy on the test
images, through `keras_dsmae.evaluation`, recorded under
`<output_dir>/scores/` with the settings that made them and reused while
those match."""

import json
import os
import time

from quality.fashion_mnist_data import normalised

from keras_dsmae import data, evaluation
from keras_dsmae.utils.atomic_write import write_json

FINETUNE_BATCH = 128  # the pipeline's batches and fine_tune's rate scaling must agree


def scores_path(budget, ablation, seed):
    return os.path.join(budget.output_dir, "scores", budget.run_name(ablation, seed) + ".json")


def forget_scores(budget, ablation, seed):
    """Drop the recorded scores of a row whose encoder was just pretrained anew."""
    path = scores_path(budget, ablation, seed)
    if os.path.exists(path):
        os.remove(path)


def cached_scores(budget, ablation, seed, train_count, role, evaluate_now):
    """The `role` ("student" or "teacher") scores of a row at `seed`
    (pretrained on `train_count` images): the recorded ones when made with
    the same pretraining and evaluation settings, else `evaluate_now()`
    (then recorded)."""
    path = scores_path(budget, ablation, seed)
    settings = json.loads(json.dumps({"pretraining": budget.pretraining_record(ablation, seed, train_count),
                                      "evaluation": budget.evaluation_record()}))
    recorded = {}
    if os.path.exists(path):
        with open(path) as file:
            recorded = json.load(file)
        if recorded["settings"] != settings:
            recorded = {}
    if role in recorded.get("scores", {}):
        scores = recorded["scores"][role]
        print(f"  cached {role} scores {path}: " + "  ".join(f"{k} {v:.4f}" for k, v in scores.items()),
              flush=True)
        return scores
    scores = evaluate_now()
    write_json(path, {"settings": settings, "scores": {**recorded.get("scores", {}), role: scores}})
    return scores


def evaluate(budget, encoder, arrays, normalization, seed, finetune=True):
    """`{"knn", "linear"[, "finetune"]}` accuracies (fractions) of `encoder`."""
    references, tuning = budget.eval_train_examples, budget.finetune_examples
    reference = (normalised(arrays["train_images"][:references], normalization),
                 arrays["train_labels"][:references])
    test = (normalised(arrays["test_images"], normalization), arrays["test_labels"])
    pooling = budget.pooling if hasattr(encoder, "block_outputs") else "mean"
    start, scores = time.time(), {}
    scores["knn"] = evaluation.knn_accuracy(encoder, reference, test, k=budget.knn_k, batch_size=512,
                                            pooling=pooling)
    scores["linear"] = evaluation.linear_probe(encoder, reference, test, epochs=budget.linear_epochs,
                                               batch_size=512, seed=seed, pooling=pooling)
    print(f"  kNN {scores['knn']:.4f}  linear {scores['linear']:.4f}  ({time.time() - start:.0f} s)", flush=True)
    if not finetune or not budget.finetune_epochs:
        return scores
    start = time.time()
    images, labels = arrays["train_images"][:tuning], arrays["train_labels"][:tuning]
    if budget.finetune_crop_scale_min:
        tune = data.from_arrays(images, labels.astype("int64"), batch_size=FINETUNE_BATCH,
                                normalization=normalization, training=True,
                                crop_scale=(budget.finetune_crop_scale_min, 1.0), seed=seed)
    else:
        tune = (normalised(images, normalization), labels)
    mixup_alpha, cutmix_alpha = budget.finetune_mixing_alphas()
    result = evaluation.fine_tune(
        encoder, tune, test, num_classes=10, epochs=budget.finetune_epochs, batch_size=FINETUNE_BATCH,
        learning_rate=budget.finetune_learning_rate, warmup_epochs=0.1, mixup_alpha=mixup_alpha,
        cutmix_alpha=cutmix_alpha, drop_path_rate=0.1, seed=seed, verbose=2,
    )
    scores["finetune"] = result.accuracy
    print(f"  fine-tune {scores['finetune']:.4f}  ({time.time() - start:.0f} s)", flush=True)
    return scores
