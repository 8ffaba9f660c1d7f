"""Switching filters off, and the paper's experiment: does zeroing the salient filters help?

Levin et al. (2022, Sec. 3) zero the most salient filters of a misclassified sample and observe
that its true-class probability rises more than when the same number of random filters is zeroed.
`turn_off` zeroes filters temporarily (and always restores them), `switched_off_copy` returns a
zeroed copy, and `switch_off_experiment` measures the effect on a copy of the model.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import keras
import numpy as np

from vis import backend as _backend
from vis import engine
from vis.pss._data import check_images, check_labels
from vis.pss._kernels import find_kernels
from vis.utils import checks
from vis.utils.model import copy_model, iter_layers

__all__ = ["turn_off", "switched_off_copy", "switch_off_experiment", "SwitchOffResult"]


def _resolve(model, filters, bias: bool) -> list[tuple[object, tuple]]:
    """Maps `(kernel name, filter index)` pairs to `(variable, index)` assignments."""
    checks.model(model)
    bias = checks.boolean(bias, "bias")
    if isinstance(filters, (str, bytes)) or not isinstance(filters, (list, tuple, np.ndarray)):
        raise TypeError(
            "`filters` must be a list of `(layer name, filter index)` pairs such as "
            f"ParameterSaliency.filters entries; received {type(filters).__name__}: "
            f"{filters!r}"[:300] + "."
        )
    specs = {spec.name: spec for spec in find_kernels(model, include_dense=True)}
    layers = dict(iter_layers(model))
    targets = []
    for item in filters:
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise ValueError(
                "`filters` must be `(layer name, filter index)` pairs such as "
                f"ParameterSaliency.filters entries; received {item!r}."
            )
        name, index = item
        spec = specs.get(name)
        if spec is None:
            raise ValueError(
                f"No convolution or Dense kernel named {name!r} (in `filters`); known kernels: "
                f"{sorted(specs)!r}."
            )
        if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
            raise ValueError(
                f"`filters`: the filter index of {name!r} must be an int, got {index!r} "
                f"({type(index).__name__})."
            )
        index = int(index)
        if not 0 <= index < spec.n_filters:
            raise ValueError(
                f"Filter index {index} out of range for {name!r} (in `filters`), which has "
                f"{spec.n_filters} filters."
            )
        layer = layers[spec.path]
        targets.append((getattr(layer, spec.attr), spec.filter_index(index)))
        owns_bias = spec.kind != "depthwise" or spec.name == spec.path
        if bias and owns_bias and getattr(layer, "bias", None) is not None:
            targets.append((layer.bias, (index,)))
    return targets


def _value(variable) -> np.ndarray:
    """A writable NumPy copy of a variable's value (any backend)."""
    return np.array(keras.ops.convert_to_numpy(variable))


@contextlib.contextmanager
def turn_off(model, filters: Sequence[tuple[str, int]], bias: bool = False) -> Iterator:
    """Temporarily zeroes the weights of the given filters; restores them on exit.

    The original values are restored when the block exits, also when it raises. The filters
    are validated before anything is changed.

    Args:
        model: A Keras model.
        filters: `(kernel name, filter index)` pairs, e.g. entries of
            `ParameterSaliency.filters` (Dense units are accepted too).
        bias: Also zero the filters' biases. Defaults to `False` (the kernel weights only).

    Yields:
        The model, with the filters zeroed.

    Raises:
        ValueError: For unknown kernel names or filter indices out of range.

    Example:
        >>> top = psal.top_filters(x[:1], y[:1], k=5)[0]
        >>> with turn_off(model, [psal.filters[i] for i in top]):
        ...     probabilities = model(x[:1])
    """
    targets = _resolve(model, filters, bias)
    saved = {}
    for variable, _ in targets:
        saved.setdefault(id(variable), (variable, _value(variable)))
    try:
        for key, (variable, original) in saved.items():
            value = original.copy()
            for target, index in targets:
                if id(target) == key:
                    value[index] = 0
            variable.assign(value)
        yield model
    finally:
        for variable, original in saved.values():
            variable.assign(original)


def switched_off_copy(model, filters: Sequence[tuple[str, int]], bias: bool = False):
    """Returns a copy of a Functional/Sequential model with the given filters zeroed.

    Args:
        model: A Keras Functional or Sequential model (unchanged).
        filters: `(kernel name, filter index)` pairs.
        bias: Also zero the filters' biases. Defaults to `False`.

    Returns:
        A new `keras.Model` with copied weights, the given filters set to zero.

    Raises:
        ValueError: For unknown filters.

    Example:
        >>> pruned = switched_off_copy(model, [("conv2", 3), ("conv2", 7)])
    """
    copy = copy_model(model)
    for variable, index in _resolve(copy, filters, bias):
        value = _value(variable)
        value[index] = 0
        variable.assign(value)
    return copy


@dataclass
class SwitchOffResult:
    """Measured true-class probabilities of the switch-off experiment.

    Returned by `switch_off_experiment`; the fields are also its attributes. `m` is the number
    of samples studied.

    Args:
        indices: Indices (into the given samples) of the samples studied.
        p_before: True-class probability with every filter on, `(m,)`.
        p_top: True-class probability with the sample's top-k salient filters off, `(m,)`.
        p_random: True-class probability with k random filters off, `(m, n_random)`.
        fixed_top: Whether the prediction becomes correct with the top-k filters off, `(m,)`.
        fixed_random: Same with random filters off, `(m, n_random)`.

    Example:
        >>> result = switch_off_experiment(model, psal, x, y, k=5, n_random=4)
        >>> result.p_random.shape == (len(result.indices), 4)
        True
        >>> better = result.gain_top > result.gain_random  # the paper's claim
    """

    indices: np.ndarray
    p_before: np.ndarray
    p_top: np.ndarray
    p_random: np.ndarray
    fixed_top: np.ndarray
    fixed_random: np.ndarray

    @property
    def gain_top(self) -> float:
        """Mean true-class probability gain from zeroing the top-k salient filters."""
        return float(np.mean(self.p_top - self.p_before))

    @property
    def gain_random(self) -> float:
        """Mean true-class probability gain from zeroing k random filters."""
        return float(np.mean(self.p_random - self.p_before[:, None]))

    def summary(self) -> str:
        """Returns a short human-readable report of the experiment.

        Returns:
            One line: the number of samples, the mean true-class probability before and with
            the top / random filters off (and the gains), and the fractions corrected.

        Example:
            >>> print(result.summary())  # "12 samples: true-class probability 0.21 -> ..."
        """
        return (
            f"{len(self.indices)} samples: true-class probability {self.p_before.mean():.4f} -> "
            f"{self.p_top.mean():.4f} with the top filters off (gain {self.gain_top:+.4f}), "
            f"-> {self.p_random.mean():.4f} with random filters off (gain "
            f"{self.gain_random:+.4f}); corrected {self.fixed_top.mean():.1%} vs "
            f"{self.fixed_random.mean():.1%}."
        )


def switch_off_experiment(model, psal, x, y, k: int = 10, n_random: int = 10, seed: int = 0,
                          misclassified_only: bool = True,
                          probabilities: bool | None = None) -> SwitchOffResult:
    """Zeroes each sample's top-k salient filters, and k random ones, and measures the effect.

    Runs on a copy of the model (the model is never changed). For every studied sample, the
    true-class probability is measured with all filters, with its own top-`k` filters of
    `psal.profile` switched off, and with `n_random` draws of `k` random filters switched off.

    Args:
        model: The Keras classifier `psal` explains (Functional or Sequential).
        psal: A fitted `ParameterSaliency` of `model` with `granularity="filter"`.
        x: Images `(n, *input_shape)`.
        y: True integer labels `(n,)`.
        k: Filters switched off per sample. Defaults to `10`.
        n_random: Random draws of `k` filters per sample. Defaults to `10`.
        seed: Seed of the random filter draws. Defaults to `0`.
        misclassified_only: Study only the misclassified samples of `x`. Defaults to `True`.
        probabilities: Whether `model` outputs probabilities (else a softmax is applied).
            Defaults to `None` (from `psal.outputs`).

    Returns:
        A `SwitchOffResult`.

    Raises:
        ValueError: For a parameter-wise `psal`, an unfitted one, invalid `k`/`n_random`, or
            images and labels that do not fit the model (e.g. one-hot or wrong-length labels).

    Example:
        >>> result = switch_off_experiment(model, psal, x_test, y_test, k=5, n_random=20)
        >>> print(result.summary())
    """
    from vis.pss.saliency import ParameterSaliency

    checks.model(model)
    if not isinstance(psal, ParameterSaliency):
        raise TypeError(f"`psal` must be a fitted vis.pss.ParameterSaliency, got "
                        f"{type(psal).__name__}.")
    if psal.granularity != "filter":
        raise ValueError("`psal` must use granularity='filter' to switch filters off.")
    seed = checks.seed(seed)
    misclassified_only = checks.boolean(misclassified_only, "misclassified_only")
    probabilities = checks.optional_boolean(probabilities, "probabilities")
    if isinstance(n_random, bool) or not isinstance(n_random, (int, np.integer)) or n_random < 1:
        raise ValueError(f"`n_random` must be a positive integer, received {n_random!r}.")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) \
            or not 1 <= k <= len(psal.filters):
        raise ValueError(f"`k` must be an integer in [1, {len(psal.filters)}], received {k!r}.")
    images = check_images(x, psal.input_shape, psal.input_dtype)
    labels = check_labels(y, len(images), psal.n_classes)
    checks.work(len(images) * (n_random + 2), "n_random", n_random,
                "forward passes with filters switched off")
    if probabilities is None:
        if psal.outputs == "unknown":
            raise ValueError("Pass `probabilities=True/False`: `psal` uses a custom loss.")
        probabilities = psal.outputs == "probabilities"
    copy = copy_model(model)

    def predict(batch):  # the engine's compiled forward: it runs on the copy's current weights
        outputs = engine.predict(copy, batch)
        if probabilities:
            return np.asarray(outputs)
        return _backend.to_numpy(keras.ops.softmax(keras.ops.convert_to_tensor(outputs), axis=-1))

    p_all = predict(images)
    indices = np.arange(len(images))
    if misclassified_only:
        indices = indices[p_all.argmax(axis=1) != labels]
    top = psal.top_filters(images[indices], labels[indices], k=k) if len(indices) else []
    rng = np.random.default_rng(seed)
    n_filters = len(psal.filters)
    p_before, p_top, p_random, fixed_top, fixed_random = [], [], [], [], []
    for row, i in enumerate(indices):
        draws = [[], top[row]] + [rng.choice(n_filters, size=k, replace=False)
                                  for _ in range(n_random)]
        probs = []
        for chosen in draws:
            with turn_off(copy, [psal.filters[j] for j in chosen]):
                probs.append(predict(images[i:i + 1])[0])
        p_true = np.array([p[labels[i]] for p in probs])
        fixed = np.array([p.argmax() == labels[i] for p in probs])
        p_before.append(p_true[0])
        p_top.append(p_true[1])
        p_random.append(p_true[2:])
        fixed_top.append(fixed[1])
        fixed_random.append(fixed[2:])
    return SwitchOffResult(
        indices=indices,
        p_before=np.array(p_before, dtype=np.float64),
        p_top=np.array(p_top, dtype=np.float64),
        p_random=np.array(p_random, dtype=np.float64).reshape(len(indices), n_random),
        fixed_top=np.array(fixed_top, dtype=bool),
        fixed_random=np.array(fixed_random, dtype=bool).reshape(len(indices), n_random),
    )
