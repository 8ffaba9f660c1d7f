"""What the perturbation methods share: option checks, baselines, and the batched evaluator.

Every perturbation method (occlusion, RISE, Score-CAM, KernelSHAP, LIME, feature ablation)
builds perturbed copies of its inputs with vectorized NumPy and hands them to one `Evaluator`,
which packs the copies of all inputs into large compiled calls of `vis.engine` (`batch_size`
copies each, chosen from the input size when not given), shows a progress bar when the work is
long, and returns each input's scores. Perturbing one input of a multi-input model is the
`input_index` of the evaluator: the other inputs are repeated alongside the perturbed one.

Multi-input models: a method perturbs the inputs that `input=` names (`select_inputs`; by
default every input it can perturb), each one separately while the others keep their values,
and returns one map per model input, `None` for an input it did not perturb (no attribution,
which is not the same as an attribution of zero). Options may differ per input
(`per_input_option`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import keras
import numpy as np

from vis import engine
from vis.inputs import input_specs
from vis.methods._chunks import BATCH_BYTES, pieces
from vis.methods._targets import target_score
from vis.utils import checks
from vis.utils.model import model_channel_axis

__all__ = ["Evaluator", "resolve_baseline", "resolve_input", "select_inputs", "per_input_option",
           "as_inputs", "map_dtype", "not_an_image", "spatial_axes", "positive_int", "check_seed",
           "check_verbose", "default_batch_size", "bilinear_matrix", "BATCH_BYTES", "MAX_BATCH",
           "PROGRESS_SECONDS"]

# Perturbed inputs per compiled call: about this many bytes of them, at most MAX_BATCH.
MAX_BATCH = 256
# A progress bar appears (verbose=None) when the work left after the first call should take
# longer than this many seconds.
PROGRESS_SECONDS = 2.0


# --- option checks -----------------------------------------------------------------------------


def positive_int(value, name: str) -> int:
    """`value` as an int >= 1; otherwise a `ValueError` naming `name` (`checks.positive_int`)."""
    return checks.positive_int(value, name)


def check_seed(seed) -> int | None:
    """`seed` as `None` or an int >= 0; otherwise a `ValueError` (`checks.seed`)."""
    return checks.seed(seed, "seed")


def check_verbose(verbose) -> bool | None:
    """`verbose` as `None` (automatic), `True` or `False`; otherwise a `TypeError`."""
    return checks.verbose(verbose, optional=True)


def default_batch_size(sample_shape: Sequence[int], dtype="float32") -> int:
    """Perturbed inputs per call: about `BATCH_BYTES` of them, between 1 and `MAX_BATCH`.

    Example:
        >>> default_batch_size((224, 224, 3))
        111
    """
    nbytes = max(1, math.prod(sample_shape) * np.dtype(dtype).itemsize)
    return int(min(MAX_BATCH, max(1, BATCH_BYTES // nbytes)))


# --- inputs, axes and baselines ----------------------------------------------------------------


def resolve_input(model: keras.Model, input_id) -> int:
    """The index of the model input that is perturbed (`input=`).

    Args:
        model: The user's model.
        input_id: `None` (input 0), an index into `model.inputs`, or an input's name.

    Returns:
        The index.

    Raises:
        ValueError: For an unknown index or name.
        TypeError: For another type.
    """
    inputs = input_specs(model)
    names = [spec.name for spec in inputs]
    if input_id is None:
        return 0
    if isinstance(input_id, str):
        if input_id not in names:
            raise ValueError(f"`input`={input_id!r} is not an input of the model; its inputs "
                             f"are {names}.")
        return names.index(input_id)
    if isinstance(input_id, bool) or not isinstance(input_id, (int, np.integer)):
        raise TypeError(f"`input` must be None, an int or an input name, got {input_id!r}.")
    if not -len(inputs) <= input_id < len(inputs):
        raise ValueError(f"`input`={input_id} is out of range: the model has {len(inputs)} "
                         "input(s).")
    return int(input_id) % len(inputs)


def as_inputs(inputs) -> tuple[list[np.ndarray], bool]:
    """The batches of a method's `inputs` as a list, and whether the model has several inputs.

    Example:
        >>> xs, multi = as_inputs([images, table])
        >>> len(xs), multi
        (2, True)
    """
    if isinstance(inputs, (list, tuple)):
        return [np.asarray(a) for a in inputs], True
    return [np.asarray(inputs)], False


def not_an_image(x: np.ndarray) -> str | None:
    """Why a batch is not images `(N, H, W, C)` for the image-only methods, or `None`."""
    if x.ndim != 4:
        return f"has shape {x.shape[1:]} per sample, not an image (H, W, C)"
    return None


def map_dtype(x: np.ndarray) -> np.dtype:
    """The dtype of the maps of input `x`: its own float dtype, float32 for integer inputs."""
    return x.dtype if x.dtype.kind == "f" else np.dtype("float32")


def _input_name(model: keras.Model, k: int) -> str:
    name = getattr(model.inputs[k], "name", None)
    return name or f"input_{k}"


def select_inputs(model: keras.Model, xs: Sequence[np.ndarray], input_id, method: str,
                  reason: Callable[[np.ndarray], str | None], one: bool = False) -> list[int]:
    """The inputs a perturbation method perturbs (`input=`), checked.

    A single-input model: input 0 (an `input` other than `None`, `0` or its name is refused by
    `resolve_input`); the method checks the input itself. A multi-input model: the inputs named
    by `input` (an index, a name, or a list or tuple of them), each of which the method must be
    able to perturb; `None`: every input it can perturb.

    Args:
        model: The user's model.
        xs: The batch of each input.
        input_id: `input=`.
        method: The method's name, for messages.
        reason: `reason(x)`: why the method cannot perturb a batch `x` (e.g. "it has no spatial
            axes"), or `None` when it can.
        one: The method perturbs one input only (its single map refers to one input, e.g.
            RISE, Score-CAM). Defaults to `False`.

    Returns:
        The sorted input indices.

    Raises:
        ValueError: An unknown input, an input the method cannot perturb, no input it can
            perturb, or several inputs for a method that perturbs one (all naming `input`).
        TypeError: An `input` of another type.

    Example:
        >>> select_inputs(model, [images, table], None, "occlusion", why_not)
        [0]
    """
    if len(xs) == 1:
        return [resolve_input(model, input_id)]
    names = [_input_name(model, k) for k in range(len(xs))]
    if input_id is None:
        chosen = [k for k, xk in enumerate(xs) if reason(xk) is None]
        if not chosen:
            why = "; ".join(f"{names[k]!r} {reason(xk)}" for k, xk in enumerate(xs))
            raise ValueError(f"`input`: {method} can perturb none of the model's inputs ({why}).")
        if one and len(chosen) > 1:
            raise ValueError(
                f"`input`: {method} returns one map, of one input, and can perturb several of "
                f"the model's inputs {[names[k] for k in chosen]}: choose one with `input=`."
            )
        return chosen
    ids = list(input_id) if isinstance(input_id, (list, tuple)) else [input_id]
    if not ids:
        raise ValueError("`input` is an empty list; name the inputs to perturb.")
    chosen = sorted({resolve_input(model, i) for i in ids})
    if one and len(chosen) > 1:
        raise ValueError(f"`input`: {method} returns one map, of one input; got "
                         f"{[names[k] for k in chosen]}.")
    for k in chosen:
        why = reason(xs[k])
        if why is not None:
            raise ValueError(f"`input`={names[k]!r}: {method} cannot perturb this input: it "
                             f"{why}.")
    return chosen


def per_input_option(model: keras.Model, value, param: str, default, n_inputs: int,
                     sequences: bool = False) -> list:
    """An option of a perturbation method as one value per model input.

    A dict keyed by input names gives each input its own value (inputs it leaves out get
    `default`); with `sequences`, so does a list or tuple with one entry per input (as the
    `baseline=` of Integrated Gradients). Anything else applies to every input.

    Args:
        model: The user's model.
        value: The option's value.
        param: Its name, for messages.
        default: The value of inputs a dict leaves out.
        n_inputs: The number of model inputs.
        sequences: Read a list or tuple of `n_inputs` entries as one per input. Defaults to
            `False` (a tuple is one value, e.g. a window per spatial axis).

    Returns:
        A list of `n_inputs` values.

    Raises:
        ValueError: A dict with keys that are not input names.

    Example:
        >>> per_input_option(model, {"image": 3}, "window", None, 2)
        [3, None]
    """
    if n_inputs == 1:
        return [value]
    names = [_input_name(model, k) for k in range(n_inputs)]
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names), key=str)
        if unknown:
            raise ValueError(f"`{param}` has unknown keys {unknown}; the model's inputs are "
                             f"{names}.")
        return [value.get(name, default) for name in names]
    if sequences and isinstance(value, (list, tuple)) and len(value) == n_inputs:
        return list(value)
    return [value] * n_inputs


def spatial_axes(model: keras.Model, x: np.ndarray, method: str) -> tuple[int, ...]:
    """The spatial axes of a batch of images or signals (every axis but batch and channels).

    Raises:
        ValueError: For inputs without spatial axes (`(N, F)`), naming `method`.
    """
    if x.ndim < 3:
        raise ValueError(
            f"{method} needs inputs with spatial axes (N, H, W, C) or (N, L, C); got shape "
            f"{x.shape}. Use 'feature_ablation' for tabular inputs."
        )
    if model_channel_axis(model) == 1:
        return tuple(range(2, x.ndim))
    return tuple(range(1, x.ndim - 1))


def channel_axis_of(model: keras.Model, x: np.ndarray) -> int:
    """The channel axis of a batch of images (`1` or `x.ndim - 1`)."""
    return 1 if model_channel_axis(model) == 1 else x.ndim - 1


def expand_spatial(maps: np.ndarray, x: np.ndarray, caxis: int) -> np.ndarray:
    """Spatial maps `(B, *spatial)` broadcastable against images `x` (a channel axis added)."""
    return np.expand_dims(maps, caxis if caxis == 1 else maps.ndim)


def blur_sigma(shape: Sequence[int]) -> tuple[float, ...]:
    """The Gaussian sigma of `baseline="blur"`: `max(1, size / 8)` pixels along each axis."""
    return tuple(max(1.0, s / 8.0) for s in shape)


def resolve_baseline(baseline, x: np.ndarray, *, mean_axes: tuple[int, ...],
                     blur_axes: tuple[int, ...] | None = None, param: str = "baseline"
                     ) -> np.ndarray:
    """The baseline of each input, an array shaped like `x` (possibly a broadcast view).

    Args:
        baseline: A number; an array shaped like one input, like the batch, or broadcastable
            to one input (e.g. one value per channel); `"mean"`: the mean of `x` over
            `mean_axes` (an image's per-channel mean); `"blur"` (when `blur_axes` is given):
            `x` blurred by a Gaussian of sigma `blur_sigma` over `blur_axes`.
        x: The validated batch.
        mean_axes: The axes `"mean"` averages over.
        blur_axes: The axes `"blur"` blurs; `None`: `"blur"` is not available.
        param: The name in error messages. Defaults to `"baseline"`.

    Returns:
        An array shaped like `x`, in `x`'s dtype.

    Raises:
        ValueError: Unknown names, wrong shapes, NaN or inf values.
        TypeError: Booleans and other types.
    """
    def mean(x: np.ndarray) -> np.ndarray:
        return x.mean(axis=mean_axes, keepdims=True, dtype="float64").astype(x.dtype)

    def blur(x: np.ndarray) -> np.ndarray:
        from scipy.ndimage import gaussian_filter

        sigma = [0.0] * x.ndim
        for axis, s in zip(blur_axes, blur_sigma([x.shape[a] for a in blur_axes])):
            sigma[axis] = s
        return gaussian_filter(x.astype("float64"), sigma).astype(x.dtype)

    names = {"mean": mean} if blur_axes is None else {"mean": mean, "blur": blur}
    return checks.baseline(baseline, x, param, names=names)


# --- interpolation -----------------------------------------------------------------------------


def bilinear_matrix(src: int, dst: int) -> np.ndarray:
    """The `(dst, src)` matrix of 1-D linear resizing with half-pixel centres.

    Sample `i` of the output reads the input at `(i + 0.5) * src / dst - 0.5`, clamped to the
    edges: the separable factors of `tf.image.resize(..., "bilinear")` (no antialiasing), so
    `R_h @ image @ R_w.T` resizes a 2-D image as `vis.methods.gradcam.upsample` does.

    Example:
        >>> bilinear_matrix(2, 4)
        array([[1.  , 0.  ],
               [0.75, 0.25],
               [0.25, 0.75],
               [0.  , 1.  ]])
    """
    pos = np.clip((np.arange(dst) + 0.5) * (src / dst) - 0.5, 0, src - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, src - 1)
    frac = pos - lo
    out = np.zeros((dst, src))
    np.add.at(out, (np.arange(dst), lo), 1.0 - frac)
    np.add.at(out, (np.arange(dst), hi), frac)
    return out


# --- the evaluator -----------------------------------------------------------------------------


class Evaluator:
    """Scores perturbed copies of a batch's inputs in large compiled calls.

    Args:
        model: The user's model (never modified).
        x: The validated batch (a list of batches for a multi-input model).
        targets: One class / unit index per input.
        output: The explained output layer. Defaults to `-1`.
        probability: Score with the target's probability instead of its pre-softmax score:
            the softmax of the output's pre-softmax scores; for an output ending in a sigmoid,
            the output itself; for one unit without a sigmoid, its sigmoid. Defaults to
            `False`.
        input_index: The input that is perturbed (see `resolve_input`). Defaults to `0`.
        batch_size: Perturbed inputs per call. Defaults to `None` (`default_batch_size`).
        verbose: `None` (a progress bar when, timed on the second call, the remaining calls
            should take more than `PROGRESS_SECONDS`), `True` or `False`. Defaults to `None`.
        desc: The progress bar's label. Defaults to `""`.
        work: `(parameter, value)`: the option that sets the number of perturbations, named
            when `run` is asked for more than `vis.utils.checks.MAX_COPIES` of them (refused
            up front). Defaults to `None` (not checked).

    Example:
        >>> ev = Evaluator(model, x, y)
        >>> scores = ev.run([3] * len(x), lambda i, sl: np.repeat(x[i:i + 1], sl.stop - sl.start, 0))
    """

    def __init__(self, model, x, targets, *, output=-1, probability: bool = False,
                 input_index: int = 0, batch_size: int | None = None, verbose=None,
                 desc: str = "", work: tuple[str, object] | None = None):
        self.model = model
        self.xs = list(x) if isinstance(x, (list, tuple)) else [x]
        self.multi = isinstance(x, (list, tuple))
        self.index = input_index
        self.targets = np.asarray(targets, dtype="int64")
        self.output = output
        self.probability = probability
        sample = self.xs[input_index]
        self.batch_size = (engine.check_batch_size(batch_size) if batch_size is not None
                           else default_batch_size(sample.shape[1:], sample.dtype))
        self.verbose = check_verbose(verbose)
        self.desc = desc
        self.work_param = None if work is None else (work[0], work[1], "perturbed copies of "
                                                     "the inputs")
        self.calls = 0  # compiled calls made (for tests)

    @property
    def x(self) -> np.ndarray:
        """The batch of the perturbed input."""
        return self.xs[self.index]

    def scores(self, perturbed: np.ndarray, owners: np.ndarray) -> np.ndarray:
        """The scores of `perturbed` copies of the inputs `owners` (one call, float64)."""
        self.calls += 1
        if self.multi:
            inputs = [perturbed if j == self.index else xj[owners]
                      for j, xj in enumerate(self.xs)]
        else:
            inputs = perturbed
        t = self.targets[owners]
        if not self.probability:
            return engine.scores(self.model, target_score(self.output, t), inputs
                                 ).astype("float64")
        logits = np.asarray(engine.activations(self.model, inputs, self.output,
                                               pre_softmax=True), dtype="float64")
        if logits.ndim > 2:  # conv outputs: the spatial mean, as the score is defined
            copy = engine.get_copy(self.model)
            caxis = copy.channel_axis(copy.layer(self.output, "output")[1]) % logits.ndim
            logits = logits.mean(axis=tuple(a for a in range(1, logits.ndim) if a != caxis))
        logits = logits.reshape(len(logits), -1)
        if self._sigmoid_output():  # (multi-)label probabilities already
            return logits[np.arange(len(logits)), t]
        if logits.shape[1] == 1:
            return 1.0 / (1.0 + np.exp(-logits[:, 0]))
        logits = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        return p[np.arange(len(p)), t]

    def _sigmoid_output(self) -> bool:
        layer = engine.get_copy(self.model).layer(self.output, "output")[1]
        activation = getattr(layer, "activation", None)
        return getattr(activation, "__name__", "") == "sigmoid"

    def run(self, counts: Sequence[int], make: Callable[[int, slice], np.ndarray],
            consume: Callable[[int, slice, np.ndarray], None] | None = None
            ) -> list[np.ndarray]:
        """Scores `counts[i]` perturbations of every input `i`.

        Args:
            counts: The number of perturbations of each input.
            make: `make(i, slice(start, stop))` returns perturbations `start..stop-1` of input
                `i` as an array `(stop - start, *input shape)`; called for at most
                `batch_size` perturbations at a time, so memory is bounded by `batch_size`.
            consume: Called as `consume(i, slice(start, stop), scores)` right after each
                piece is scored (to accumulate while the perturbations are at hand). Defaults
                to `None`.

        Returns:
            One float64 array of `counts[i]` scores per input.
        """
        total = int(sum(int(c) for c in counts))
        if self.work_param is not None:
            checks.work(total, *self.work_param)
        out = [np.empty(int(c), dtype="float64") for c in counts]
        n_calls = math.ceil(total / self.batch_size) if total else 0
        bar = self._bar(total) if self.verbose else None
        try:
            for call, chunk in enumerate(pieces(counts, self.batch_size)):
                start = time.perf_counter()
                parts = [make(i, slice(a, b)) for i, a, b in chunk]
                owners = np.concatenate([np.full(b - a, i) for i, a, b in chunk])
                perturbed = parts[0] if len(parts) == 1 else np.concatenate(parts)
                s = self.scores(perturbed.astype(self.x.dtype, copy=False), owners)
                pos = 0
                for i, a, b in chunk:
                    out[i][a:b] = s[pos:pos + b - a]
                    pos += b - a
                    if consume is not None:
                        consume(i, slice(a, b), out[i][a:b])
                # the estimate uses the second call (the first one may include tracing)
                if bar is None and self.verbose is None and call == min(1, n_calls - 2):
                    if (time.perf_counter() - start) * (n_calls - call - 1) > PROGRESS_SECONDS:
                        bar = self._bar(total)
                if bar is not None:
                    bar.update(len(owners))
        finally:
            if bar is not None:
                bar.close()
        return out

    def _bar(self, total: int):
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=self.desc, unit="eval", leave=False)
