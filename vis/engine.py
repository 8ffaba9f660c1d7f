"""The engine every method shares: compiled gradients, scores and activations on model copies.

Three compiled passes over a `vis.copies.ModelCopy` of the user's model (the copy carries the
backprop modifier and the taps; it runs on the user's current weights):

- `gradients(model, losses, x, ...)`: per-sample scores `-sum_j weight_j * loss_j` and their
  gradients w.r.t. the input or a layer's output.
- `scores(model, losses, x)`: the same scores, forward only (perturbation methods, metrics).
- `activations(model, x, layers)`: any layers' outputs (or pre-softmax logits).
- `predict(model, x)`: the model's output(s), like `model.predict` without its retracing.

Each is compiled once per (copy, losses' `cache_key`s, layers) with a `None` batch dimension, so
new inputs, batch sizes or targets never retrace; targets and loss weights are run-time inputs.
The backend-specific parts (compiling, differentiating) live in `vis.backend`; this module is
written in `keras.ops` and NumPy. The user's model is never modified.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence

import keras
import numpy as np

from vis import backend as _backend
from vis import inputs as _inputs
from vis.copies import PRE, ModelCopy, get_copy, release
from vis.errors import backend_error
from vis.losses import Loss
from vis.utils import checks
from vis.utils.model import ends_in_softmax, iter_layers, output_shape, resolve_layer

__all__ = ["gradients", "scores", "activations", "predict", "prepare_input", "resolve_wrt",
           "get_copy", "release", "ModelCopy", "PRE_SOFTMAX", "MAX_FUNCTIONS_PER_COPY",
           "check_batch_size", "options", "jit_default"]

PRE_SOFTMAX = PRE
# Compiled functions kept per copy (one per distinct set of losses / layers).
MAX_FUNCTIONS_PER_COPY = 32


# --- inputs ------------------------------------------------------------------------------------


def prepare_input(model: keras.Model, seed_input, param: str = "seed_input") -> tuple[np.ndarray, bool]:
    """Validates one input array against a single-input model; adds a batch axis if needed.

    For models with several inputs use `vis.inputs.prepare`, which takes lists and dicts.

    Args:
        model: The Keras model.
        seed_input: One sample (no batch axis) or a batch.
        param: Name used in error messages. Defaults to `"seed_input"`.

    Returns:
        `(batch, single)`: an array with a batch axis in the model's input dtype (float inputs
        given as integers are cast to float), and whether the input was one sample.

    Raises:
        ValueError: On a wrong rank or shape, NaN/inf values, an empty batch, or a model that
            is not built or has several inputs.
        TypeError: If `model` is not a Keras model, or the input cannot be converted to a real
            numeric array.

    Example:
        >>> batch, single = prepare_input(model, x[0])
        >>> batch.shape, single
        ((1, 8, 8, 1), True)
    """
    specs = _inputs.input_specs(model, seed_input)
    if len(specs) != 1:
        raise ValueError(
            f"`model` has {len(specs)} inputs {[s.name for s in specs]}; this function explains "
            "single-input models: use vis.explain (or the visualize_* functions), which take a "
            "list or dict of inputs."
        )
    batch = _inputs.prepare(model, seed_input, param)
    return batch.arrays[0], batch.single


def check_batch_size(batch_size) -> int | None:
    """`batch_size` as a positive int, or `None`.

    Raises:
        ValueError: For anything else (booleans included).
    """
    return checks.batch_size(batch_size, "batch_size")


_check_batch_size = check_batch_size


class _Options(threading.local):
    jit_compile: bool = False


_OPTIONS = _Options()


def jit_default(jit_compile: bool | None = None) -> bool:
    """`jit_compile` as given, or the default of this thread (see `options`).

    Raises:
        TypeError: If `jit_compile` is not `None` or a bool.
    """
    if jit_compile is None:
        return _OPTIONS.jit_compile
    if not isinstance(jit_compile, (bool, np.bool_)):
        raise TypeError(f"`jit_compile` must be a bool or None, got {jit_compile!r}.")
    return bool(jit_compile)


@contextlib.contextmanager
def options(jit_compile: bool | None = None):
    """Engine options for every compiled pass run inside the `with` block (this thread only).

    How `vis.explain(..., jit_compile=True)` reaches the engine through any method: every
    `gradients` / `scores` / `activations` / `predict` call in the block that does not pass
    `jit_compile=` itself uses this value. The option is part of the compiled function's cache
    key, so XLA and non-XLA functions live side by side.

    Args:
        jit_compile: Compile with XLA (`tf.function(jit_compile=True)`; `jax.jit` always;
            `torch.compile`). `None` keeps the current value. Defaults to `None`.

    Raises:
        TypeError: If `jit_compile` is not `None` or a bool.

    Example:
        >>> with options(jit_compile=True):
        ...     maps = vis.explain(model, x)
    """
    previous = _OPTIONS.jit_compile
    _OPTIONS.jit_compile = jit_default(jit_compile)
    try:
        yield
    finally:
        _OPTIONS.jit_compile = previous


def _as_list(x) -> tuple[list[np.ndarray], bool]:
    if isinstance(x, (list, tuple)):
        return list(x), True
    return [x], False


def _chunks(n: int, batch_size: int | None):
    step = n if batch_size is None else check_batch_size(batch_size)
    for start in range(0, n, step):
        yield slice(start, start + step)


def _sliced(arrays, sl: slice, n: int):
    """`[a[sl] for a in arrays]`, without slicing when the chunk is everything."""
    if sl.start == 0 and sl.stop >= n:
        return list(arrays)
    return [a[sl] for a in arrays]


def _join(parts: list) -> np.ndarray:
    """The chunks' results as one array (no copy for a single chunk)."""
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _input_specs(B, copy: ModelCopy) -> list:
    return [B.spec((None,) + tuple(s.shape[1:]), s.dtype)
            for s in _inputs.input_specs(copy.source())]


def _n_inputs(copy: ModelCopy) -> int:
    return len(_inputs.input_specs(copy.source()))


def _single(value, key: str):
    """A layer's recorded output; a one-element list (single-output sub-model) is unwrapped."""
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise ValueError(
                f"Layer {key!r} has {len(value)} outputs; vis explains single-output layers."
            )
        return value[0]
    return value


class _TraceProblems:
    """Errors found while tracing, raised after the compiled call.

    Raised inside a `tf.function`, they would come back wrapped in TensorFlow's "in user code"
    traceback text; the compiled function records them and `check` raises them cleanly.
    """

    def __init__(self):
        self.messages: list[str] = []

    def check(self) -> None:
        if self.messages:
            raise ValueError(self.messages[0])


def _recorded(rec: dict, key: str, problems: _TraceProblems):
    if key.split(":")[0] in rec["__shared__"]:
        problems.messages.append(
            f"Layer {key.split(':')[0]!r} is called more than once in the model (a shared "
            "layer): its output is ambiguous; explain another layer."
        )
    if key not in rec:
        problems.messages.append(
            f"Layer {key.split(':')[0]!r} is not used when the model computes its output: "
            "there is nothing to explain there."
        )
        return None
    return _single(rec[key], key)


def _invoke(fn, copy, *args):
    """Calls a compiled function; an error of the model or the backend becomes a `ValueError`.

    TensorFlow's `InvalidArgumentError` (and the other backends' errors), or a layer failing
    while it is traced, reach the user as one clear message naming the layer and what to do
    (see `vis.errors.backend_error`), never as "Graph execution error".
    """
    try:
        return fn(*args)
    except Exception as exc:
        source = copy.source()
        names = [p.split("/")[-1] for p, _ in iter_layers(source)] if source is not None else []
        err = backend_error(exc, names)
        if err is None:
            raise
        raise err from exc


_FUNCTIONS_LOCK = threading.Lock()


def _function(copy: ModelCopy, key, build):
    """The compiled function cached on `copy` under `key` (built on first use; LRU)."""
    fns = copy.functions
    with _FUNCTIONS_LOCK:
        fn = fns.pop(key, None)
    if fn is None:
        fn = build()
    with _FUNCTIONS_LOCK:
        fns[key] = fns.pop(key, fn)  # most recently used last (another thread's build wins)
        while len(fns) > MAX_FUNCTIONS_PER_COPY:
            fns.popitem(last=False)
        return fns[key]


# --- losses -> run-time targets ----------------------------------------------------------------


def _loss_specs(copy: ModelCopy, losses: Sequence[tuple[Loss, float]], n: int, B):
    """For each loss: `(loss, key, channel axis, target spec)`, and the run-time targets."""
    specs, targets = [], []
    for loss, _ in losses:
        path, layer = copy.layer(loss.layer, "layer_idx")
        key = path + PRE if (loss.pre_softmax and ends_in_softmax(layer)) else path
        caxis = copy.channel_axis(layer)
        target = loss.target(n, output_shape(layer), caxis)
        spec = None
        if target is not None:
            target = np.asarray(target)
            targets.append(target)
            spec = B.spec((None,) + target.shape[1:], target.dtype)
        specs.append((loss, key, caxis, spec is not None or target is not None, spec))
    return specs, targets


def _score(specs, rec, weights, targets, problems):
    targets = list(targets)
    score = None
    for i, (loss, key, caxis, has_target, _) in enumerate(specs):
        t = targets.pop(0) if has_target else None
        out = _recorded(rec, key, problems)
        if out is None:
            continue
        value = loss(out, t, caxis)
        value = -keras.ops.cast(weights[i], value.dtype) * value
        score = value if score is None else score + value
    return score


# --- gradients ---------------------------------------------------------------------------------


def resolve_wrt(copy: ModelCopy, wrt_tensor) -> str | None:
    """Returns the path of the layer whose output is `wrt_tensor` (`None`: the model input).

    Args:
        copy: The `ModelCopy` of the user's model.
        wrt_tensor: `None`, or a layer identifier of the user's model (index, name, path,
            layer or layer output); the model's own input layer means the input.

    Returns:
        The layer path, or `None` for the model input.

    Raises:
        ValueError: If no such layer exists.
        TypeError: If `wrt_tensor` is of an unsupported type.

    Example:
        >>> resolve_wrt(get_copy(model), "conv2")
        'conv2'
    """
    if wrt_tensor is None:
        return None
    source = copy.source()
    _, layer = resolve_layer(source, wrt_tensor, "wrt_tensor")
    if isinstance(layer, keras.layers.InputLayer) and layer in source.layers:
        return None  # the model's own input
    return copy.layer(wrt_tensor, "wrt_tensor")[0]


def _targets_of_gradient(copy: ModelCopy, wrt_path: str | None, replace: tuple[str, ...]):
    """What to differentiate: `[("arg", i) | ("layer", path)]`, one per returned gradient.

    Without `wrt_path`: one per model input (a float input itself; an integer input through
    the layer it feeds, or the replacement given for that layer).
    """
    if wrt_path is not None:
        if wrt_path in replace:
            return [("arg", _n_inputs(copy) + replace.index(wrt_path))]
        return [("layer", wrt_path)]
    specs = _inputs.input_specs(copy.source())
    routes = _inputs.embedding_routes(copy.source())
    out = []
    for i, spec in enumerate(specs):
        if not spec.integer:
            out.append(("arg", i))
        elif i in routes:
            path = routes[i]
            out.append(("arg", len(specs) + replace.index(path)) if path in replace
                       else ("layer", path))
        else:
            raise ValueError(
                f"Input {spec.name!r} holds integers ({spec.dtype}), which have no gradient, "
                "and it does not feed one layer (an Embedding, a cast or a Rescaling) whose "
                "output vis could differentiate instead: pass `wrt_tensor=` a layer."
            )
    return out


def _per_sample(value, reduce):
    """`reduce` over every axis but the batch axis: one value per sample."""
    flat = keras.ops.reshape(value, (keras.ops.shape(value)[0], -1))
    return reduce(flat, axis=1)


def _gradient_function(copy: ModelCopy, specs, wrt_path: str | None, replace: tuple[str, ...],
                       post=None, jit_compile: bool = False):
    B = _backend.get()
    problems = _TraceProblems()
    n_inputs = _n_inputs(copy)
    plan = _targets_of_gradient(copy, wrt_path, replace)
    wrt_args = [i for kind, i in plan if kind == "arg"]
    wrt_layers = [p for kind, p in plan if kind == "layer"]
    target_names = sorted({s[1] for s in specs})
    what = "the input" if wrt_path is None else repr(wrt_path)
    hint = ""
    floats = _inputs.float_embedding_inputs(copy.source()) if wrt_path is None else []
    if floats:
        hint = (f" Input(s) {floats} feed an Embedding but are declared as floats: declare them "
                "as token ids, `keras.Input(..., dtype='int32')`, and vis explains the "
                "embedding output.")

    def fn(values, args, weights, *targets):
        del problems.messages[:]

        def f(a, hooks):
            hooks = dict(hooks)
            for j, path in enumerate(replace):
                hooks[path] = lambda out, v=a[n_inputs + j]: keras.ops.cast(v, out.dtype)
            xs = a[:n_inputs]
            _, rec = copy.forward(values, xs if n_inputs > 1 else xs[0], hooks)
            score = _score(specs, rec, weights, targets, problems)
            if score is None:
                score = keras.ops.zeros((keras.ops.shape(xs[0])[0],))
            return keras.ops.sum(score), (score,), rec

        (score,), grads, layer_values = B.value_and_grad(f, list(args), wrt_args, wrt_layers)
        by_layer = dict(zip(wrt_layers, layer_values))
        arg_grads = dict(zip(wrt_args, grads[:len(wrt_args)]))
        layer_grads = dict(zip(wrt_layers, grads[len(wrt_args):]))
        ordered, explained = [], []
        for kind, key in plan:
            value = args[key] if kind == "arg" else by_layer[key]
            grad = arg_grads[key] if kind == "arg" else layer_grads[key]
            if grad is None:
                problems.messages.append(
                    f"The score of layer(s) {target_names} has no gradient path to {what} "
                    "(disconnected graph or stop_gradient): there is nothing to explain." + hint
                )
                grad = keras.ops.zeros_like(value)
            ordered.append(keras.ops.cast(grad, "float32"))
            explained.append(value)
        # one flag per sample and gradient: all finite (checked on the host without a pass
        # over the maps)
        finite = [_per_sample(keras.ops.isfinite(g), keras.ops.all) for g in ordered]
        if post is None:
            return keras.ops.cast(score, "float32"), ordered, explained, finite
        maps, flags = post(ordered)
        return keras.ops.cast(score, "float32"), maps, flags, finite

    weight_spec = B.spec((len(specs),), "float32")
    replace_specs = [B.spec((None,) + tuple(output_shape(copy.layers[p])[1:]), "float32")
                     for p in replace]
    signature = [_input_specs(B, copy) + replace_specs, weight_spec,
                 *[s[4] for s in specs if s[4] is not None]]
    compiled = B.stateful(fn, copy.variables, signature, jit_compile=jit_compile)
    compiled.problems = problems
    return compiled


def gradients(
    model: keras.Model,
    losses: Sequence[tuple[Loss, float]],
    x,
    wrt_tensor=None,
    backprop_modifier=None,
    batch_size: int | None = None,
    return_wrt: bool = False,
    replace: dict | None = None,
    *,
    post=None,
    jit_compile: bool | None = None,
):
    """Per-sample scores and gradients of `-sum(weight * loss)` for a validated batch `x`.

    The building block of every gradient method: `scores[i] = -sum_j weight_j * loss_j[i]` (for
    `ActivationMaximization`, the target activation or logit) and `grads[i] = d scores[i] /
    d wrt[i]`, computed by a cached compiled function on a model copy (see `vis.copies`).
    Integer inputs (token ids) are differentiated through the output of the layer they feed
    (`vis.inputs.embedding_routes`). Gradients are float32, also for mixed-precision models.

    Args:
        model: The user's model.
        losses: `(Loss, weight)` pairs.
        x: A batch (see `vis.inputs.prepare`): an array, or a list with one array per input.
        wrt_tensor: `None` (the inputs) or the layer whose output to differentiate against.
            Defaults to `None`.
        backprop_modifier: Anything `vis.backprop_modifiers.get` accepts. Defaults to `None`.
        batch_size: Evaluate in chunks of this many samples. Defaults to `None` (all at once).
        return_wrt: Also return the values differentiated against (the inputs, the embedding
            outputs of integer inputs, or the `wrt_tensor` layer's output). Defaults to `False`.
        replace: `{layer: values}`: these layers' outputs are replaced by the given batches
            (e.g. interpolated embeddings for Integrated Gradients), and the gradient is taken
            w.r.t. them. Defaults to `None`.
        post: In-graph post-processing of the gradients: a hashable object (part of the
            compiled function's cache key) called inside the compiled function as
            `post(grads) -> (maps, flags)`, one map and one per-sample flag array per gradient
            (e.g. `vis.visualization._postprocess.GraphFinish`: grad modifier, channel max and
            normalization without a host pass). Defaults to `None`.
        jit_compile: Compile with XLA (see `options`). Defaults to `None` (the thread's
            default, `False` unless set by `options`).

    Returns:
        `(scores, grads)` (`scores` of shape `(N,)`; `grads` one array, or a list for a list
        `x`), plus the differentiated values (same structure) with `return_wrt`. With `post`:
        `(scores, maps, flags)`, `maps` and `flags` in the structure of `grads`.

    Raises:
        ValueError: For unknown layers, indices out of range, a bad `batch_size`, no gradient
            path from the losses to `wrt_tensor`, or NaN/inf gradients.
        TypeError: For arguments of unsupported types (model, modifier, filter indices).

    Example:
        >>> from vis.losses import ActivationMaximization
        >>> loss = ActivationMaximization("predictions", 3)
        >>> scores, grads = gradients(model, [(loss, 1.0)], x)
        >>> scores.shape == (len(x),) and grads.shape == x.shape
        True
    """
    B = _backend.get()
    jit = jit_default(jit_compile)
    copy = get_copy(model, backprop_modifier)
    wrt_path = resolve_wrt(copy, wrt_tensor)
    xs, as_list = _as_list(x)
    n = len(xs[0])
    replaced = {}
    for layer_id, values in (replace or {}).items():
        path, _ = copy.layer(layer_id, "replace")
        values = np.asarray(values, dtype="float32")
        if len(values) != n:
            raise ValueError(f"`replace[{layer_id!r}]` has {len(values)} samples, expected {n}.")
        replaced[path] = values
    if post is not None and return_wrt:
        raise ValueError("`return_wrt` cannot be combined with `post`.")
    paths = tuple(sorted(replaced))
    specs, targets = _loss_specs(copy, losses, n, B)
    key = ("gradients", tuple(s[0].cache_key() for s in specs), wrt_path, paths, post, jit)
    fn = _function(copy, key, lambda: _gradient_function(copy, specs, wrt_path, paths, post,
                                                         jit))
    weights = np.asarray([float(w) for _, w in losses], dtype="float32")
    args = xs + [replaced[p] for p in paths]
    score_parts, grad_parts, extra_parts, finite_parts = [], [], [], []
    for sl in _chunks(n, batch_size):
        s, g, w, ok = _invoke(fn, copy, _sliced(args, sl, n), weights, *_sliced(targets, sl, n))
        fn.problems.check()
        score_parts.append(_backend.to_numpy(s))
        grad_parts.append(_backend.to_numpy(g))
        finite_parts.append(_backend.to_numpy(ok))
        if return_wrt or post is not None:
            extra_parts.append(_backend.to_numpy(w))
    finite = [_join([p[i] for p in finite_parts]) for i in range(len(finite_parts[0]))]
    bad = sorted({int(i) for ok in finite for i in np.flatnonzero(~ok)})
    if bad:
        raise ValueError(
            f"The gradient contains NaN or inf for sample(s) {bad[:10]}: the model is not "
            "differentiable at this input (e.g. sqrt or log at 0, or an overflow)."
        )
    grads = [_join([p[i] for p in grad_parts]) for i in range(len(grad_parts[0]))]
    many = as_list and wrt_path is None
    out = (_join(score_parts), grads if many else grads[0])
    if return_wrt or post is not None:
        extra = [_join([p[i] for p in extra_parts]) for i in range(len(extra_parts[0]))]
        out = out + (extra if many else extra[0],)
    return out


# --- forward passes ----------------------------------------------------------------------------


def _score_function(copy: ModelCopy, specs, jit_compile: bool = False):
    B = _backend.get()
    problems = _TraceProblems()
    n_inputs = _n_inputs(copy)

    def fn(values, xs, weights, *targets):
        del problems.messages[:]
        _, rec = copy.forward(values, xs if n_inputs > 1 else xs[0])
        score = _score(specs, rec, weights, targets, problems)
        return keras.ops.zeros((keras.ops.shape(xs[0])[0],)) if score is None else score

    weight_spec = B.spec((len(specs),), "float32")
    signature = [_input_specs(B, copy), weight_spec, *[s[4] for s in specs if s[4] is not None]]
    compiled = B.stateful(fn, copy.variables, signature, jit_compile=jit_compile)
    compiled.problems = problems
    return compiled


def scores(
    model: keras.Model,
    losses: Sequence[tuple[Loss, float]],
    x,
    batch_size: int | None = None,
    backprop_modifier=None,
    *,
    jit_compile: bool | None = None,
) -> np.ndarray:
    """Per-sample scores `-sum_j weight_j * loss_j` (forward only, compiled, batched).

    What perturbation methods and faithfulness metrics evaluate on many perturbed inputs: with
    `[(ActivationMaximization(layer, per_sample(t)), 1.0)]` the pre-softmax score of unit `t[i]`.

    Args:
        model: The user's model.
        losses: `(Loss, weight)` pairs.
        x: A validated batch (a list of batches for a multi-input model).
        batch_size: Evaluate in chunks of this many samples. Defaults to `None` (all at once).
        backprop_modifier: The copy to run (modifiers do not change forward values). Defaults
            to `None`.
        jit_compile: Compile with XLA (see `options`). Defaults to `None` (the thread's
            default).

    Returns:
        A float array `(N,)`.

    Raises:
        ValueError: For unknown layers, indices out of range or a bad `batch_size`.

    Example:
        >>> from vis.losses import ActivationMaximization, per_sample
        >>> s = scores(model, [(ActivationMaximization(-1, per_sample(y)), 1.0)], x)
        >>> s.shape == (len(x),)
        True
    """
    B = _backend.get()
    jit = jit_default(jit_compile)
    copy = get_copy(model, backprop_modifier)
    xs, _ = _as_list(x)
    n = len(xs[0])
    specs, targets = _loss_specs(copy, losses, n, B)
    key = ("scores", tuple(s[0].cache_key() for s in specs), jit)
    fn = _function(copy, key, lambda: _score_function(copy, specs, jit))
    weights = np.asarray([float(w) for _, w in losses], dtype="float32")
    parts = []
    for sl in _chunks(n, batch_size):
        s = _invoke(fn, copy, _sliced(xs, sl, n), weights, *_sliced(targets, sl, n))
        fn.problems.check()
        parts.append(_backend.to_numpy(s))
    return _join(parts)


def _activation_function(copy: ModelCopy, keys: tuple[str, ...], jit_compile: bool = False):
    B = _backend.get()
    problems = _TraceProblems()
    n_inputs = _n_inputs(copy)

    def fn(values, xs):
        del problems.messages[:]
        _, rec = copy.forward(values, xs if n_inputs > 1 else xs[0])
        outs = [_recorded(rec, k, problems) for k in keys]
        return [keras.ops.zeros((1,)) if o is None else o for o in outs]

    compiled = B.stateful(fn, copy.variables, [_input_specs(B, copy)], jit_compile=jit_compile)
    compiled.problems = problems
    return compiled


def activations(
    model: keras.Model,
    x,
    layers,
    *,
    pre_softmax: bool = False,
    batch_size: int | None = None,
    jit_compile: bool | None = None,
):
    """The outputs of any layers of `model` on a validated batch (compiled, batched).

    Args:
        model: The user's model (never modified).
        x: A validated batch (a list of batches for a multi-input model).
        layers: One layer identifier (index, name, nested path, layer or layer output) or a
            list of them.
        pre_softmax: For layers ending in a softmax, return the logits. Defaults to `False`.
        batch_size: Evaluate in chunks of this many samples. Defaults to `None` (all at once).
        jit_compile: Compile with XLA (see `options`). Defaults to `None` (the thread's
            default).

    Returns:
        One array per layer (a list when `layers` is a list).

    Raises:
        ValueError: For unknown layers, input layers, shared layers or a bad `batch_size`.

    Example:
        >>> conv = activations(model, x, "conv2")
        >>> logits, conv = activations(model, x, [-1, "conv2"], pre_softmax=True)
    """
    as_list = isinstance(layers, (list, tuple))
    copy = get_copy(model)
    keys = []
    for layer_id in layers if as_list else [layers]:
        path, layer = copy.layer(layer_id, "layers")
        keys.append(path + PRE if pre_softmax and ends_in_softmax(layer) else path)
    keys = tuple(keys)
    jit = jit_default(jit_compile)
    fn = _function(copy, ("activations", keys, jit),
                   lambda: _activation_function(copy, keys, jit))
    xs, _ = _as_list(x)
    n = len(xs[0])
    parts = []
    for sl in _chunks(n, batch_size):
        out = _invoke(fn, copy, _sliced(xs, sl, n))
        fn.problems.check()
        parts.append(_backend.to_numpy(out))
    result = [_join([p[i] for p in parts]) for i in range(len(keys))]
    return result if as_list else result[0]


def _predict_function(copy: ModelCopy, jit_compile: bool = False):
    B = _backend.get()
    n_inputs = len(copy.source().inputs)

    def fn(values, xs):
        outputs, _ = copy.forward(values, xs if n_inputs > 1 else xs[0])
        return keras.tree.flatten(outputs)

    return B.stateful(fn, copy.variables, [_input_specs(B, copy)], jit_compile=jit_compile)


def predict(model: keras.Model, x, batch_size: int | None = None, *,
            jit_compile: bool | None = None):
    """The outputs of `model` on a validated batch (compiled once, batched).

    Like `model.predict`, but compiled once per model with a `None` batch dimension (a new
    last-batch size does not retrace) and run on a copy of the model with its current weights.

    Args:
        model: The user's model (never modified).
        x: A validated batch (a list of batches for a multi-input model).
        batch_size: Evaluate in chunks of this many samples. Defaults to `None` (all at once).
        jit_compile: Compile with XLA (see `options`). Defaults to `None` (the thread's
            default).

    Returns:
        An array for a single-output model, else a list of arrays (the flattened outputs).

    Raises:
        ValueError: For a bad `batch_size`.
        TypeError: If `model` is not a Keras model or cannot be copied.

    Example:
        >>> probabilities = predict(model, x, batch_size=256)
        >>> probabilities.shape == (len(x), 10)
        True
    """
    batch_size = check_batch_size(batch_size)
    copy = get_copy(model)
    jit = jit_default(jit_compile)
    key = ("predict",) if not jit else ("predict", True)
    fn = _function(copy, key, lambda: _predict_function(copy, jit))
    xs, _ = _as_list(x)
    n = len(xs[0])
    parts = [_backend.to_numpy(_invoke(fn, copy, _sliced(xs, sl, n)))
             for sl in _chunks(n, batch_size)]
    result = [_join([p[i] for p in parts]) for i in range(len(parts[0]))]
    return result[0] if len(result) == 1 else result
