"""What every fuzz case asserts: a clean error naming the parameter, or a good result; and an
untouched model (weights digest and each layer's `call` / `activation` identity).

A case is `(id, call, expected)`: `call()` runs the public function; `expected` is `OK` (a
finite, non-degenerate result), or `(exception type, parameter)` (the error's message names the
parameter in backticks and holds none of NumPy's or TensorFlow's internal phrases).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pytest

from vis.copies import weights_digest
from vis.errors import NaNMapWarning
from vis.utils.model import iter_layers

OK = "ok"

# Phrases of NumPy, TensorFlow, Keras and Python internals that must never reach a user.
INTERNALS = (
    "Traceback", "tensorflow.python", "SeedSequence", "Graph execution error", "in user code",
    "could not convert string to float", "object has no attribute", "invalid literal for int",
    "ufunc", "non-broadcastable", "operands could not be broadcast", "cannot unpack",
    "unsupported operand type", "not supported between instances", "object is not iterable",
    "object is not subscriptable", "object is not callable", "positional argument",
    "got an unexpected keyword argument", "Unable to allocate", "einstein sum",
    "expected non-negative integer", "{{node", "[Op:", "Arguments received by",
    "Exception encountered when calling", "allow_pickle", "Errno",
)


def snapshot(*models) -> list:
    """The weights digest and each layer's `call` / `activation` identity of `models`."""
    out = []
    for model in models:
        layers = []
        for path, layer in iter_layers(model):
            call = layer.__dict__.get("call", type(layer).call)
            layers.append((path, id(layer), id(call), id(getattr(layer, "activation", None))))
        out.append((weights_digest(model), layers))
    return out


def assert_clean_message(message: str, param: str | None) -> None:
    """`message` names `param` in backticks and contains no internals."""
    for phrase in INTERNALS:
        assert phrase not in message, f"internal phrase {phrase!r} in: {message}"
    if param is not None:
        assert f"`{param}" in message, f"`{param}` not named in: {message}"


def finite_result(value) -> list[np.ndarray]:
    """The numeric arrays of a result (arrays, lists of them, dicts, objects with arrays)."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [a for v in value.values() for a in finite_result(v)]
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in finite_result(v)]
    if isinstance(value, (int, float, np.number, np.ndarray)):
        return [np.asarray(value, dtype="float64")]
    for attr in ("scores", "auc", "p_before", "p_top", "mean_"):
        if getattr(value, attr, None) is not None:
            return finite_result(getattr(value, attr))
    return []


def assert_good(result, degenerate_ok: bool = False) -> None:
    """Finite numbers; maps (ndim >= 2) are not all zero for any sample."""
    arrays = finite_result(result)
    assert arrays, f"no numeric result in {type(result).__name__}"
    for a in arrays:
        assert np.all(np.isfinite(a)), "non-finite values in the result"
        if not degenerate_ok and a.ndim >= 2:
            flat = a.reshape(len(a), -1)
            assert np.all(np.any(flat != 0, axis=1)), "an all-zero map in the result"


def check_case(call, expected, models, degenerate_ok: bool = False):
    """Runs one case; asserts its outcome and that `models` are unchanged. Returns the result
    (or the exception)."""
    before = snapshot(*models)
    if expected == OK:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            result = call()
        assert_good(result, degenerate_ok)
    else:
        kind, param = expected
        with pytest.raises(kind) as info, warnings.catch_warnings():
            warnings.simplefilter("ignore", NaNMapWarning)  # warned, then refused
            call()
        assert type(info.value) is kind or issubclass(type(info.value), kind)
        assert_clean_message(str(info.value), param)
        result = info.value
    assert snapshot(*models) == before, "the model's weights or layers changed"
    return result
