"""Data randomization test (Adebayo et al. 2018): true labels versus permuted labels.

Paper: "Sanity Checks for Saliency Maps", https://arxiv.org/abs/1810.03292. The same architecture
is trained twice, once on the true labels and once on a random permutation of them. A network
can memorize random labels (high train accuracy, chance test accuracy), but then it has learned
nothing about the relation between inputs and labels, so an explanation that looks the same for
both models is not explaining that relation.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence

import keras
import numpy as np
from tqdm.auto import tqdm

from vis import engine
from vis.sanity import _common, _layout
from vis.sanity.reinit import derive_seed
from vis.sanity.result import Result
from vis.utils import checks
from vis.utils.model import ends_in_softmax, resolve_layer

__all__ = ["data_randomization_test"]

STEP = "random_labels"


def _build(build_model: Callable, param_hint: str) -> keras.Model:
    model = checks.call(build_model, "build_model")
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


def _seed_globals(seed: int | None, stage: str) -> None:
    """`keras.utils.set_random_seed` with a seed derived from `seed` (nothing if `None`)."""
    if seed is not None:
        keras.utils.set_random_seed(derive_seed(seed, stage))


def _fit(model: keras.Model, x: np.ndarray, y: np.ndarray, epochs: int, seed: int | None,
         fit_kwargs: dict) -> None:
    kwargs = dict(fit_kwargs)
    batch = int(kwargs.pop("batch_size", 32))
    verbose = kwargs.pop("verbose", 0)
    fixed = sorted({"x", "y", "epochs", "shuffle"} & set(kwargs))
    if fixed:
        raise TypeError(f"`fit_kwargs` sets {fixed}, which the test sets itself (the data, "
                        "`epochs` and the shuffling).")
    try:
        params = inspect.signature(model.fit).parameters
    except (TypeError, ValueError):
        params = {}
    if params and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(kwargs) - set(params))
        if unknown:
            raise TypeError(f"`fit_kwargs` has keys that `model.fit` does not take: {unknown}.")
    # a failing fit is the built model's (its loss, its output) unless options were given
    blame = "fit_kwargs" if kwargs or "batch_size" in fit_kwargs else "build_model"
    if keras.backend.backend() != "tensorflow":
        # JAX / PyTorch: Keras shuffles the arrays every epoch with the global seed, which
        # `_seed_globals` set to the same value before each of the two trainings
        checks.call(model.fit, blame, x, y, batch_size=batch, epochs=epochs, shuffle=True,
                    verbose=verbose, **kwargs)
        return
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices((x, y))
    data = data.shuffle(len(x), seed=derive_seed(seed, "shuffle"), reshuffle_each_iteration=True)
    checks.call(model.fit, blame, data.batch(batch), epochs=epochs, shuffle=False,
                verbose=verbose, **kwargs)


def _predict(model: keras.Model, x: np.ndarray, batch_size: int | None) -> np.ndarray:
    """Outputs of `model` on `x` through the engine's compiled forward (`vis.engine.predict`:
    compiled once per model with a `None` batch dimension; `model.predict` retraces on every new
    last-batch size)."""
    return engine.predict(model, x, batch_size or 256)


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
    channel_axis: int | None = None,
) -> Result:
    """Data randomization test: maps of a model trained on true vs permuted labels.

    `build_model()` is called twice; one model is trained on `(x_train, y_train)`, the other on
    `(x_train, permutation(y_train))` (same inputs, same epochs, same shuffling). Both explain
    the first `n_explained` test inputs; the metrics compare the two maps of each input. Check
    `train_accuracy['random_labels']`: the test is only meaningful if the network memorized the
    random labels (otherwise train longer or use a wider network).

    Reproducibility: with an int `seed`, `keras.utils.set_random_seed` is called with seeds
    derived from `seed` before each model is built and before each is trained, so unseeded
    initializers, `Dropout` and other random layers draw the same numbers in every run (and
    the two models the same initial weights and dropout masks: only the labels differ). This
    sets the global Python, NumPy and TensorFlow seeds. `seed=None` sets nothing.

    Both models are built, the labels and the metrics checked, before any training.

    Args:
        build_model: A function returning a new Keras classifier (compiled or not: an
            uncompiled one is compiled with Adam(1e-3) and sparse categorical cross-entropy on
            logits or probabilities, whichever the model outputs).
        x_train: Training inputs.
        y_train: Training labels (class indices or one-hot rows).
        x_test: Test inputs (accuracy, and the inputs to explain).
        y_test: Test labels.
        method: An explainer name or a callable `(model, x, y) -> maps` (see
            `vis.sanity.explainers`).
        epochs: Training epochs of each model. Defaults to `20`.
        metrics: Metric names or callables. Defaults to
            `('spearman_abs', 'spearman', 'ssim', 'hog')`, of which `'hog'` / `'ssim'` are
            skipped with a warning for maps they cannot compare (`hog`: maps that are not
            2-D; `ssim`: 1-D maps); metrics passed explicitly that do not apply raise a
            `ValueError` before training.
        target: `'label'` explains the true test label with both models; `'predicted'` each
            model's own top class. Defaults to `'label'`.
        n_explained: Explain only the first `n_explained` test inputs. Defaults to `None`
            (all).
        seed: Seed of the label permutation, the shuffling and the global seeds set before
            building and training each model (see above). Defaults to `0`.
        batch_size: Chunk size for predictions and explanations. Defaults to `None`.
        fit_kwargs: Extra `model.fit` arguments (`batch_size` defaults to 32, `verbose` to 0).
            Defaults to `None`.
        verbose: Show a progress bar over the two trainings. Defaults to `True`.
        channel_axis: The channel axis of the maps (an int), or `None` for automatic (see
            `model_randomization_test`). Defaults to `None`.

    Returns:
        A `vis.sanity.Result` with `mode='data'`, `steps=['random_labels']`, `scores`
        (`{metric: (1, n)}`), `maps` (`'original'`: the true-label model's, `'random_labels'`),
        `accuracy` (test accuracy of each model), `train_accuracy` (each model on the labels it
        was trained on) and `models` (the two trained models).

    Raises:
        ValueError: Bad shapes or labels, unknown method / metric / target, a metric that does
            not apply to the maps, a bad `channel_axis`, `epochs < 1`.
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
    verbose = checks.verbose(verbose)
    if isinstance(build_model, keras.Model):
        raise TypeError(
            "`build_model` must be a function that builds a *new* model (it is called twice, "
            "and each model is trained), got the model itself; pass e.g. "
            "`lambda: keras.models.clone_model(model)`."
        )
    if not callable(build_model):
        raise TypeError(f"`build_model` must be a callable returning a keras.Model, got "
                        f"{type(build_model).__name__}.")
    if fit_kwargs is not None and not isinstance(fit_kwargs, dict):
        raise TypeError(f"`fit_kwargs` must be a dict or None, got {type(fit_kwargs).__name__}.")
    if n_explained is not None and (isinstance(n_explained, bool)
                                    or not isinstance(n_explained, (int, np.integer))
                                    or n_explained < 1):
        raise ValueError(f"`n_explained` must be a positive int or None, got {n_explained!r}.")
    target = _common.check_target(target)
    seed = _common.check_seed(seed)
    batch_size = _common.check_batch_size(batch_size)
    fn = _common.explainer(method)
    default_metrics = metrics is _common.DEFAULT_METRICS
    fns = _common.metric_functions(metrics)
    channel_axis = _layout.check_channel_axis(channel_axis)

    models, trained_on = {}, {}
    rng = np.random.default_rng(seed)
    for name in ("original", STEP):
        _seed_globals(seed, "build")
        model = _build(build_model, name)
        if any(model is m for m in models.values()):
            raise ValueError("`build_model` returned the same model twice: it must build a new one.")
        units = int(model.outputs[0].shape[-1])
        xtr, _ = engine.prepare_input(model, x_train, "x_train")
        ytr = _common.labels(y_train, len(xtr), units, "y_train")
        models[name], trained_on[name] = model, rng.permutation(ytr) if name == STEP else ytr
    first = models["original"]
    units = int(first.outputs[0].shape[-1])
    xte, _ = engine.prepare_input(first, x_test, "x_test")
    yte = _common.labels(y_test, len(xte), units, "y_test")
    x_exp = xte[: n_explained or len(xte)]
    expected = _layout.spatial_shape(
        x_exp.shape, _layout.channel_axis_for(first, x_exp.shape, channel_axis, "inputs `x_test`"))
    fns = _layout.applicable_metrics(fns, expected, default_metrics, "inputs shaped like `x_test`")

    bar = tqdm(list(models), desc="data randomization: training", disable=not verbose,
               leave=False)
    for name in bar:
        _seed_globals(seed, "fit")
        _fit(models[name], xtr, trained_on[name], int(epochs), seed, fit_kwargs or {})

    accuracy, train_accuracy, targets, maps = {}, {}, {}, {}
    for name, model in models.items():
        train_accuracy[name] = float(np.mean(_predict(model, xtr, batch_size).argmax(-1)
                                             == trained_on[name]))
        logits = _predict(model, xte, batch_size)
        accuracy[name] = float(np.mean(logits.argmax(-1) == yte))
        targets[name] = yte[: len(x_exp)] if target == "label" else logits[: len(x_exp)].argmax(-1)
        maps[name] = _common.explain(fn, model, x_exp, targets[name], batch_size, f"{name} model")
    map_axis = _layout.channel_axis_for(first, maps["original"].shape, channel_axis, "maps")
    shape = _layout.spatial_shape(maps["original"].shape, map_axis)
    if shape != expected:  # a custom explainer's maps: check the metrics again
        fns = _layout.applicable_metrics(fns, shape, default_metrics, "the explainer")
    values = _common.Scorer(fns, maps["original"], map_axis)(maps[STEP], STEP)
    return Result(
        method=_common.method_name(method), mode="data", steps=[STEP],
        scores={m: v[None] for m, v in values.items()}, maps=maps, accuracy=accuracy,
        targets=targets, inputs=x_exp,
        channel_axis=_layout.auto_channel_axis(first, x_exp.ndim), map_channel_axis=map_axis,
        train_accuracy=train_accuracy, models=models,
    )
