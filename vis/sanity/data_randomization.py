"""Data randomization test (Adebayo et al. 2018): true labels versus permuted labels.

Paper: "Sanity Checks for Saliency Maps", https://arxiv.org/abs/1810.03292. The same architecture
is trained twice, once on the true labels and once on a random permutation of them. A network
can memorize random labels (high train accuracy, chance test accuracy), but then it has learned
nothing about the relation between inputs and labels, so an explanation that looks the same for
both models is not explaining that relation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from vis.sanity import _common
from vis.sanity.reinit import derive_seed
from vis.sanity.result import Result
from vis.utils.model import ends_in_softmax, model_channel_axis, resolve_layer
from vis.visualization import engine

__all__ = ["data_randomization_test"]

STEP = "random_labels"


def _build(build_model: Callable, param_hint: str) -> keras.Model:
    model = build_model()
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"`build_model` must return a keras.Model, got {type(model).__name__} ({param_hint})."
        )
    if not getattr(model, "compiled", False):
        _, last = resolve_layer(model, -1)
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=not ends_in_softmax(last)),
            metrics=["accuracy"],
        )
    return model


def _fit(model: keras.Model, x: np.ndarray, y: np.ndarray, epochs: int, seed: int | None,
         fit_kwargs: dict) -> None:
    kwargs = dict(fit_kwargs)
    batch = int(kwargs.pop("batch_size", 32))
    data = tf.data.Dataset.from_tensor_slices((x, y))
    data = data.shuffle(len(x), seed=derive_seed(seed, "shuffle"), reshuffle_each_iteration=True)
    model.fit(data.batch(batch), epochs=epochs, shuffle=False, verbose=kwargs.pop("verbose", 0),
              **kwargs)


def _predict(model: keras.Model, x: np.ndarray, batch_size: int | None) -> np.ndarray:
    return np.asarray(model.predict(x, batch_size=batch_size or 256, verbose=0))


def data_randomization_test(
    build_model: Callable[[], keras.Model],
    x_train,
    y_train,
    x_test,
    y_test,
    method: str | Callable,
    epochs: int = 20,
    metrics: Sequence = _common.DEFAULT_METRICS,
    target: str = "label",
    n_explained: int | None = None,
    seed: int | None = 0,
    batch_size: int | None = None,
    fit_kwargs: dict | None = None,
    verbose: bool = True,
) -> Result:
    """Data randomization test: maps of a model trained on true vs permuted labels.

    `build_model()` is called twice; one model is trained on `(x_train, y_train)`, the other on
    `(x_train, permutation(y_train))` (same inputs, same epochs, same shuffling). Both explain
    the first `n_explained` test inputs; the metrics compare the two maps of each input. Check
    `train_accuracy['random_labels']`: the test is only meaningful if the network memorized the
    random labels (otherwise train longer or use a wider network).

    Args:
        build_model: A function returning a new Keras classifier (compiled or not: an
            uncompiled one is compiled with Adam(1e-3) and sparse categorical cross-entropy on
            logits or probabilities, whichever the model outputs). Seed its initializers for a
            reproducible test.
        x_train: Training inputs.
        y_train: Training labels (class indices or one-hot rows).
        x_test: Test inputs (accuracy, and the inputs to explain).
        y_test: Test labels.
        method: An explainer name or a callable `(model, x, y) -> maps` (see
            `vis.sanity.explainers`).
        epochs: Training epochs of each model. Defaults to `20`.
        metrics: Metric names or callables. Defaults to
            `('spearman_abs', 'spearman', 'ssim', 'hog')`.
        target: `'label'` explains the true test label with both models; `'predicted'` each
            model's own top class. Defaults to `'label'`.
        n_explained: Explain only the first `n_explained` test inputs. Defaults to `None`
            (all).
        seed: Seed of the label permutation and of the shuffling. Defaults to `0`.
        batch_size: Chunk size for predictions and explanations. Defaults to `None`.
        fit_kwargs: Extra `model.fit` arguments (`batch_size` defaults to 32, `verbose` to 0).
            Defaults to `None`.
        verbose: Show a progress bar over the two trainings. Defaults to `True`.

    Returns:
        A `vis.sanity.Result` with `mode='data'`, `steps=['random_labels']`, `scores`
        (`{metric: (1, n)}`), `maps` (`'original'`: the true-label model's, `'random_labels'`),
        `accuracy` (test accuracy of each model), `train_accuracy` (each model on the labels it
        was trained on) and `models` (the two trained models).

    Raises:
        ValueError: Bad shapes or labels, unknown method / metric / target, `epochs < 1`.
        TypeError: If `build_model` does not return a Keras model.

    Example:
        >>> def build():
        ...     return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
        ...                              keras.layers.Dense(256, activation="relu"),
        ...                              keras.layers.Dense(10)])
        >>> result = data_randomization_test(build, x_train, y_train, x_test, y_test,
        ...                                  "gradient", epochs=45)
        >>> result.train_accuracy["random_labels"]  # memorized?
    """
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"`epochs` must be a positive int, got {epochs!r}.")
    if not callable(build_model):
        raise TypeError(f"`build_model` must be a callable returning a keras.Model, got "
                        f"{type(build_model).__name__}.")
    if fit_kwargs is not None and not isinstance(fit_kwargs, dict):
        raise TypeError(f"`fit_kwargs` must be a dict or None, got {type(fit_kwargs).__name__}.")
    target = _common.check_target(target)
    seed = _common.check_seed(seed)
    batch_size = _common.check_batch_size(batch_size)
    fn = _common.explainer(method)
    fns = _common.metric_functions(metrics)

    models, trained_on = {}, {}
    rng = np.random.default_rng(seed)
    bar = tqdm(["original", STEP], desc="data randomization: training", disable=not verbose,
               leave=False)
    for name in bar:
        model = _build(build_model, name)
        if any(model is m for m in models.values()):
            raise ValueError("`build_model` returned the same model twice: it must build a new one.")
        units = int(model.outputs[0].shape[-1])
        xtr, _ = engine.prepare_input(model, x_train, "x_train")
        ytr = _common.labels(y_train, len(xtr), units, "y_train")
        if name == STEP:
            ytr = rng.permutation(ytr)
        _fit(model, xtr, ytr, int(epochs), seed, fit_kwargs or {})
        models[name], trained_on[name] = model, ytr

    first = models["original"]
    units = int(first.outputs[0].shape[-1])
    xte, _ = engine.prepare_input(first, x_test, "x_test")
    yte = _common.labels(y_test, len(xte), units, "y_test")
    if n_explained is not None:
        if isinstance(n_explained, bool) or not isinstance(n_explained, (int, np.integer)) \
                or n_explained < 1:
            raise ValueError(f"`n_explained` must be a positive int or None, got {n_explained!r}.")
    x_exp = xte[: n_explained or len(xte)]
    accuracy, train_accuracy, targets, maps = {}, {}, {}, {}
    for name, model in models.items():
        train_accuracy[name] = float(np.mean(_predict(model, xtr, batch_size).argmax(-1)
                                             == trained_on[name]))
        logits = _predict(model, xte, batch_size)
        accuracy[name] = float(np.mean(logits.argmax(-1) == yte))
        targets[name] = yte[: len(x_exp)] if target == "label" else logits[: len(x_exp)].argmax(-1)
        maps[name] = _common.explain(fn, model, x_exp, targets[name], batch_size, f"{name} model")
    input_axis = model_channel_axis(first)
    channel_axis = _common.map_channel_axis(maps["original"], x_exp, input_axis)
    values = _common.Scorer(fns, maps["original"], channel_axis)(maps[STEP], STEP)
    return Result(
        method=_common.method_name(method), mode="data", steps=[STEP],
        scores={m: v[None] for m, v in values.items()}, maps=maps, accuracy=accuracy,
        targets=targets, inputs=x_exp, channel_axis=input_axis, train_accuracy=train_accuracy,
        models=models,
    )
