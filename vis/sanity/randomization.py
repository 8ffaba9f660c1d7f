"""Model parameter randomization test (Adebayo et al. 2018), cascading or independent.

Paper: "Sanity Checks for Saliency Maps", https://arxiv.org/abs/1810.03292. If an explanation does
not change when the model's learned weights are replaced by random ones, it is not explaining
the model. The test compares each input's map from the trained model with its map from
randomized copies:

- `mode='cascading'`: layers are re-initialized cumulatively from the top (the logits) down to
  the first layer; step `k` has the `k` top layers random.
- `mode='independent'`: one layer at a time, all others at their trained values.

Work happens on a private copy of the model (`vis.copies.SyncedCopy`, whose variables are
linked to the user's); the user's model is never changed. The copy is kept in the per-model
cache of `vis.copies` (key `("sanity",)`, freed with the model or by `vis.release(model)`) and
re-loaded with the model's current weights at the start of every test (`sync`), and the
explainers' compiled gradient functions are cached on it (the engine reads the copy's weights
inside every compiled call): each gradient method is compiled once per model, not once per step,
and a second test on the same model compiles nothing. A test that starts while the cached copy
is in use (a re-entrant or concurrent call) works on a fresh, uncached copy. PatternNet /
PatternAttribution fit new patterns on each randomized model, so they build and compile one
explainer per step.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import contextmanager

import keras
import numpy as np
from tqdm.auto import tqdm

from vis import copies, engine, streaming
from vis.sanity import _common, _layout, streamed
from vis.sanity.reinit import randomization_steps, reinitialize_layer
from vis.sanity.result import Result
from vis.utils import checks
from vis.utils.model import iter_layers

__all__ = ["model_randomization_test"]

MODES = ("cascading", "independent")


class _Workspace(copies.SyncedCopy):
    """A private copy of a user model to randomize; `busy` while a test runs on it."""

    def __init__(self, model: keras.Model):
        super().__init__(model)
        self.busy = False

    def predict(self, x: np.ndarray, batch_size: int | None) -> np.ndarray:
        """The copy's outputs on `x` with its current (randomized) weights, compiled once."""
        return engine.predict(self.model, x, batch_size)


_BUSY = threading.Lock()


@contextmanager
def _workspace(model: keras.Model):
    """A copy of `model` with its current weights (cached per model; a fresh one if in use)."""
    ws = copies.cached(model, ("sanity",), lambda: _Workspace(model))
    with _BUSY:
        free = not ws.busy
        ws.busy = True
    if not free:
        ws = _Workspace(model)  # the cached copy is in use: a fresh one, not cached
        ws.busy = True
    try:
        ws.sync()
        yield ws
    finally:
        ws.busy = False


def _new_weights(layer, path: str, reinitialize, seed) -> list[np.ndarray]:
    if reinitialize is None:
        new = reinitialize_layer(layer, seed, path)
        what = "the layer's own initializers"
    else:
        got = checks.call(reinitialize, "reinitialize", layer)
        if not isinstance(got, (list, tuple, np.ndarray, str, bytes, dict)) and hasattr(
                got, "__iter__"):
            got = list(got)  # a generator or `map` of arrays
        if not isinstance(got, (list, tuple)):
            raise ValueError(f"`reinitialize` returned {type(got).__name__} for layer {path!r}; "
                             "expected a list of arrays, one per weight of the layer.")
        new = [checks.returned_array(w, "reinitialize", finite=False) for w in got]
        old = layer.get_weights()
        if [w.shape for w in new] != [w.shape for w in old]:
            raise ValueError(
                f"`reinitialize` returned arrays of shapes {[w.shape for w in new]} for layer "
                f"{path!r}, whose weights have shapes {[w.shape for w in old]}."
            )
        what = "`reinitialize`"
    for w in new:
        w = np.asarray(w)
        if w.dtype.kind == "f" and not np.all(np.isfinite(w)):
            raise ValueError(
                f"The re-initialization of layer {path!r} by {what} gave NaN or inf weights; "
                "the randomized model cannot be explained (the input is not at fault)."
            )
    return new


def _accuracy(logits: np.ndarray, y: np.ndarray | None) -> float | None:
    return None if y is None else float(np.mean(logits.argmax(axis=-1) == y))


def model_randomization_test(
    model: keras.Model,
    x,
    y,
    method: str | Callable,
    mode: str = "cascading",
    metrics: Sequence = _common.DEFAULT_METRICS,
    target: str = "label",
    reinitialize: Callable | None = None,
    seed: int | None = 0,
    batch_size: int | None = None,
    verbose: bool = True,
    layers: Sequence | None = None,
    channel_axis: int | None = None,
) -> Result:
    """Model parameter randomization test: how much do the maps change with random weights?

    For each step the copy's layers are re-initialized (see `mode`), the method explains `x`
    again, and every metric compares each input's new map with its map from the trained model.
    A method that explains the model gives low similarity once the top layers are random
    (vanilla gradients do); one that mostly reflects the input keeps high similarity (guided
    backprop on a CNN: the paper's central finding).

    Everything that can fail is checked before the first map is computed: the arguments, that
    the metrics apply to maps shaped like `x`, and the new weights of every step (drawn up
    front, so a layer that cannot be re-initialized fails at once, not at the last step).

    Args:
        model: A trained Keras classifier (Sequential or Functional, nested models allowed).
            Never modified.
        x: The inputs to explain, a batch (or one sample); or a dataset (a `tf.data.Dataset`
            or an iterable of `(inputs, labels)` batches, or of inputs with
            `target='predicted'`), tested batch by batch in O(one batch) memory: every input's
            scores, targets and the accuracy are kept, the maps and inputs of the first
            `vis.sanity.streamed.KEEP` (16) only (see `vis.sanity.streamed`).
        y: Their labels: class indices `(N,)` or one-hot rows. May be `None` with
            `target='predicted'` (then no accuracy is reported), and is `None` for a dataset.
        method: An explainer name (`'gradient'`, `'guided_backprop'`, `'deconvnet'`,
            `'smoothgrad'`, `'integrated_gradients'`, `'gradient_x_input'`, `'gradcam'`,
            `'guided_gradcam'`, `'patternnet'`, `'patternattribution'`, `'lrp'`, see
            `vis.sanity.explainers`) or a callable `(model, x, y) -> maps`.
        mode: `'cascading'` (top-down, cumulative) or `'independent'` (one layer at a time).
            Defaults to `'cascading'`.
        metrics: Metric names or callables (see `vis.sanity.metrics`). Defaults to
            `('spearman_abs', 'spearman', 'ssim', 'hog')`; of these defaults, `'hog'` and
            `'ssim'` are skipped with a warning for maps they cannot compare (`hog`: maps that
            are not 2-D, e.g. of a flat-input MLP or a `Conv1D`; `ssim`: 1-D maps). Metrics
            passed explicitly that do not apply raise a `ValueError` instead.
        target: `'label'` explains `y` for every model; `'predicted'` explains each model's own
            top class (the trained model's for the original maps). Defaults to `'label'`.
        reinitialize: `None` re-draws each layer's variables from the layer's own initializers
            (`vis.sanity.reinit.reinitialize_layer`) with a seed derived from `seed`; or a
            callable `(layer) -> list of arrays` giving the new weights, called once per layer
            on the trained copy before any map is computed. Defaults to `None`.
        seed: Seed of the re-initialization; the same seed gives the same result. Defaults to
            `0`.
        batch_size: Forward/explain in chunks of this many inputs (passed to explainers that
            accept `batch_size`). Defaults to `None` (one batch).
        verbose: Show a progress bar over the steps. Defaults to `True`.
        layers: The steps: `None` for every layer with trainable weights (frozen layers
            included, adapted `Normalization` statistics left out), from the last to the
            first, or a list of layer ids / lists of ids (blocks), see
            `vis.sanity.reinit.randomization_steps`. Defaults to `None`.
        channel_axis: The channel axis of the maps, summed over before comparing (an int,
            e.g. `-1`). Defaults to `None`: automatic, the input's channel axis for maps shaped
            like a 4-D or larger input `(N, H, W, C)` or a 3-D input read by a `Conv1D`, and no
            channel axis otherwise (grayscale `(N, H, W)` inputs, flat vectors, Grad-CAM maps).

    Returns:
        A `vis.sanity.Result` with `steps`, `scores` (`{metric: (len(steps), N)}`), `maps`,
        `accuracy`, `targets` and `map_channel_axis`.

    Raises:
        ValueError: Unknown `mode` / `target` / method / metric, a metric that does not apply
            to the maps, bad inputs or labels, a bad `channel_axis`, a layer without
            initializers (pass `reinitialize=`), or maps that are not finite or change shape.
            An exception raised by a callable `method`, metric or `reinitialize` comes back as
            a `ValueError` (a `TypeError` stays one) naming that parameter, the original
            chained.
        TypeError: Arguments of the wrong type.

    Example:
        >>> result = model_randomization_test(model, x_test[:32], y_test[:32], "gradient")
        >>> print(result.summary())
        >>> curves, grid = result.plot()
    """
    if mode not in MODES:
        raise ValueError(f"`mode` must be one of {list(MODES)}, got {mode!r}.")
    verbose = checks.verbose(verbose)
    target = _common.check_target(target)
    seed = _common.check_seed(seed)
    if reinitialize is not None and not callable(reinitialize):
        raise TypeError(
            f"`reinitialize` must be None or a callable (layer) -> list of arrays, got "
            f"{type(reinitialize).__name__}."
        )
    fn = _common.explainer(method)
    default_metrics = metrics is _common.DEFAULT_METRICS
    fns = _common.metric_functions(metrics)
    channel_axis = _layout.check_channel_axis(channel_axis)
    if streaming.is_stream(x):  # a dataset: batch by batch, O(one batch) memory
        if y is not None:
            raise ValueError("`y`: a dataset `x` brings its labels, as (inputs, labels) "
                             "batches; leave `y=None`.")
        if len(model.outputs) != 1:
            raise ValueError(f"`model` has {len(model.outputs)} outputs; the sanity checks "
                             "need one.")
        return streamed.model_randomization_stream(
            model, x, method, mode=mode, fns=fns, default_metrics=default_metrics,
            target=target, reinitialize=reinitialize, seed=seed,
            batch_size=_common.check_batch_size(batch_size), verbose=verbose,
            steps=randomization_steps(model, layers), channel_axis=channel_axis,
            workspace=_workspace, new_weights=_new_weights)
    x, _ = engine.prepare_input(model, x, "x")
    if len(model.outputs) != 1:
        raise ValueError(f"`model` has {len(model.outputs)} outputs; the sanity checks need one.")
    batch_size = _common.check_batch_size(batch_size)
    units = int(model.outputs[0].shape[-1])
    if y is None and target == "label":
        raise ValueError("`y` is None: give labels, or use target='predicted'.")
    y = None if y is None else _common.labels(y, len(x), units)
    steps = randomization_steps(model, layers)
    input_axis = _layout.auto_channel_axis(model, x.ndim)
    # Maps shaped like `x` (every built-in explainer but Grad-CAM, whose maps are `x`'s
    # spatial shape anyway): check the metrics before any work.
    expected = _layout.spatial_shape(
        x.shape, _layout.channel_axis_for(model, x.shape, channel_axis, "inputs `x`"))
    fns = _layout.applicable_metrics(fns, expected, default_metrics, "inputs shaped like `x`")

    with _workspace(model) as ws:
        layer_of = dict(iter_layers(ws.model))
        paths = [p for _, step_paths in steps for p in step_paths]
        new = {p: _new_weights(layer_of[p], p, reinitialize, seed) for p in paths}
        trained = {p: layer_of[p].get_weights() for p in paths} if mode == "independent" else {}
        logits = ws.predict(x, batch_size)
        targets = {"original": y if target == "label" else logits.argmax(axis=-1)}
        accuracy = {"original": _accuracy(logits, y)}
        maps = {"original": _common.explain(fn, ws.model, x, targets["original"], batch_size,
                                            "original model")}
        map_axis = _layout.channel_axis_for(model, maps["original"].shape, channel_axis, "maps")
        shape = _layout.spatial_shape(maps["original"].shape, map_axis)
        if shape != expected:  # a custom explainer's maps: check the metrics again
            fns = _layout.applicable_metrics(fns, shape, default_metrics, "the explainer")
        scorer = _common.Scorer(fns, maps["original"], map_axis)
        scores = {name: np.zeros((len(steps), len(x))) for name in fns}
        previous: list[str] = []
        bar = tqdm(steps, desc=f"{mode} randomization ({_common.method_name(method)})",
                   disable=not verbose, leave=False)
        for k, (name, step_paths) in enumerate(bar):
            if mode == "independent":
                for p in previous:
                    layer_of[p].set_weights(trained[p])
            for p in step_paths:
                layer_of[p].set_weights(new[p])
            previous = step_paths
            logits = ws.predict(x, batch_size)
            targets[name] = y if target == "label" else logits.argmax(axis=-1)
            accuracy[name] = _accuracy(logits, y)
            where = f"step {name!r}"
            maps[name] = _common.explain(fn, ws.model, x, targets[name], batch_size, where)
            for metric, values in scorer(maps[name], where).items():
                scores[metric][k] = values
    return Result(
        method=_common.method_name(method), mode=mode, steps=[name for name, _ in steps],
        scores=scores, maps=maps, accuracy=accuracy, targets=targets, inputs=x,
        channel_axis=input_axis, map_channel_axis=map_axis,
    )
