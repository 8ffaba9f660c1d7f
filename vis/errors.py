"""Warnings shared by every method, and the translation of errors from inside compiled calls.

All-zero and non-finite maps are never returned silently (`warn_if_degenerate`); an error a
layer or the backend raises inside a compiled model call becomes one `ValueError` that says
what to do (`backend_error`).
"""

from __future__ import annotations

import re
import warnings

import numpy as np

__all__ = ["ZeroMapWarning", "NaNMapWarning", "warn_if_degenerate", "backend_error"]


class ZeroMapWarning(UserWarning):
    """Warned when a map is all zero (dead units, a Grad-CAM zeroed by its ReLU, ...).

    Maps are returned as zeros (never NaN) with this warning, which names the method and the
    samples concerned. Filter it with the `warnings` module to silence it or make it an error.

    Example:
        >>> import warnings
        >>> from vis.errors import ZeroMapWarning
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore", ZeroMapWarning)
        ...     cams = vis.explain(model, x, "gradcam")
    """


class NaNMapWarning(UserWarning):
    """Warned when a map holds NaN or inf values (an overflow or a non-differentiable point).

    Example:
        >>> import warnings
        >>> from vis.errors import NaNMapWarning
        >>> warnings.simplefilter("error", NaNMapWarning)  # make it an error
    """


def warn_if_degenerate(maps: np.ndarray, what: str, stacklevel: int = 3, where: str = "") -> None:
    """Warns when some samples' maps are all zero (`ZeroMapWarning`) or not finite (`NaNMapWarning`).

    Args:
        maps: A batch of maps `(N, ...)`.
        what: The method's name for the message.
        stacklevel: Passed to `warnings.warn`. Defaults to `3`.
        where: Which maps, e.g. `" of input 'image'"`. Defaults to `""`.

    Example:
        >>> warn_if_degenerate(np.zeros((2, 3)), "gradient")  # warns: samples [0, 1]
    """
    flat = np.asarray(maps).reshape(len(maps), -1)
    bad = np.flatnonzero(~np.isfinite(flat).all(axis=1))
    if bad.size:
        warnings.warn(
            f"Method {what!r} gave maps{where} with NaN or inf values for sample(s) "
            f"{bad.tolist()[:10]}.",
            NaNMapWarning, stacklevel=stacklevel,
        )
    zero = np.flatnonzero(~np.any(flat != 0, axis=1))
    if zero.size:
        warnings.warn(
            f"Method {what!r} gave an all-zero map{where} for sample(s) {zero.tolist()[:10]} (e.g. dead "
            "ReLU units, or a target with no active path for this input); returned as zeros.",
            ZeroMapWarning, stacklevel=stacklevel,
        )


# --- errors of the compiled computation ---------------------------------------------------------

# Exceptions of the backends (TensorFlow's OpErrors, JAX's XlaRuntimeError, torch's errors) are
# recognized by their module or class name, so that no backend needs to be imported here.
_BACKEND_MODULES = ("tensorflow", "jax", "jaxlib", "torch")
_BACKEND_ERRORS = ("InvalidArgumentError", "UnimplementedError", "ResourceExhaustedError",
                   "InternalError", "UnknownError", "FailedPreconditionError", "NotFoundError",
                   "OutOfRangeError", "AbortedError", "XlaRuntimeError", "OutOfMemoryError")
_WRAPPERS = ("in user code:", "Graph execution error", "Exception encountered when calling",
             "Traceback (most recent call last)")
_NODE = re.compile(r"\{\{node ([^}]+)\}\}|Detected at node '?([^'\s]+)'? defined at")


def _is_backend_error(exc: BaseException) -> bool:
    kind = type(exc)
    return (kind.__module__.split(".")[0] in _BACKEND_MODULES
            or kind.__name__ in _BACKEND_ERRORS)


_ERROR_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*(?:Error|Exception)): (.*)$")


def _core_message(text: str) -> str:
    """The backend's or the layer's own sentence: no traceback, node markers or wrappers."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    if "in user code:" in text or "Traceback (most recent call last)" in text:
        lines = text.splitlines()
        for i in range(len(lines) - 1, -1, -1):
            match = _ERROR_LINE.match(lines[i])
            if match:
                text = "\n".join([match.group(2), *lines[i + 1:]])
                break
    text = re.sub(r"^\s*Exception encountered when calling [^\n]*", "", text)
    text = re.split(r"\n\s*Arguments received by ", text)[0]
    text = re.sub(r"\s*\[\[\{\{node [^\]]*\]\]", "", text)
    text = re.sub(r"\s*\[Op:[^\]]*\]", "", text)
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    kept = [p for p in paragraphs
            if not p.startswith(("File ", "Traceback", "Detected at node", "Graph execution",
                                 "in user code", "Stack trace for op"))]
    core = kept[-1] if kept else (paragraphs[-1] if paragraphs else text)
    return " ".join(core.split())[:500]


def _layer_of(text: str, layer_names) -> str | None:
    """The user's layer whose op failed, read from the backend's node name."""
    names = set(layer_names or ())
    for match in _NODE.finditer(text):
        node = match.group(1) or match.group(2) or ""
        for part in node.split("/"):
            for candidate in (part, re.sub(r"_\d+$", "", part)):
                if candidate in names:
                    return candidate
    return None


def _hint(kind: str, core: str, text: str) -> str:
    nodes = " ".join(m.group(0) for m in _NODE.finditer(text))
    low = f"{core} {nodes}".lower()
    if kind in ("ResourceExhaustedError", "OutOfMemoryError") or "out of memory" in low \
            or " oom " in f" {low} ":
        return "the computation ran out of memory: lower `batch_size` (or explain fewer inputs)."
    if "nchw" in low or "channels_first" in low or ("nhwc" in low and "conv" in low):
        return ("channels_first convolutions or pooling are not available in this backend "
                "build on this device: transpose the inputs to channels_last and rebuild the "
                "model with data_format='channels_last', or run on a GPU.")
    if re.search(r"indices\[[^\]]*\] = -?\d+ is not in \[0, \d+\)", core):
        return ("an index is out of range, e.g. a token id >= the Embedding's `input_dim`: "
                "check the integer inputs.")
    if "dtype" in low or "expected to be a" in low and "tensor" in low:
        return ("the model cannot take the inputs' dtype: give inputs of the dtype its "
                "`keras.Input` declares.")
    return ("a layer of the model fails on these inputs (e.g. a Lambda or custom layer whose "
            "computation does not fit their shape or values): check `model.predict` on the "
            "same inputs.")


def backend_error(exc: BaseException, layer_names=()) -> Exception | None:
    """The error to raise for an exception from inside a compiled model call, or `None`.

    Errors of the backend (TensorFlow's `InvalidArgumentError`, `UnimplementedError`,
    `ResourceExhaustedError`, ...; JAX's `XlaRuntimeError`; torch's errors), and errors a layer
    raises while it is traced (wrapped in TensorFlow's "in user code" text), become a
    `ValueError` that names the failing layer when the backend says which, keeps the
    backend's own sentence, and says what to do. A `ValueError` / `TypeError` raised while
    tracing keeps its type and its own message, without the wrapper. Anything else returns
    `None`: the caller re-raises it unchanged.

    Args:
        exc: The exception.
        layer_names: The names of the model's layers, to recognize the failing one. Defaults
            to `()`.

    Returns:
        The exception to raise (chain it: `raise err from exc`), or `None`.

    Example:
        >>> try:
        ...     fn(x)
        ... except Exception as exc:
        ...     err = backend_error(exc, [l.name for l in model.layers])
        ...     if err is None:
        ...         raise
        ...     raise err from exc
    """
    exc = getattr(exc, "backend_exception", None) or exc  # translated once: again, with names
    text = str(getattr(exc, "message", None) or exc)
    backend = _is_backend_error(exc)
    if not backend and not (isinstance(exc, Exception) and any(w in str(exc) for w in _WRAPPERS)):
        return None
    kind = type(exc).__name__
    core = _core_message(text)
    if not backend and isinstance(exc, (ValueError, TypeError)):
        return type(exc)(core)  # a message raised while tracing: the wrapper removed
    layer = _layer_of(text, layer_names)
    caller = re.search(r"Exception encountered when calling (\w+)\.call\(\)", text)
    node = _NODE.search(text)
    node = node and (node.group(1) or node.group(2))
    where = (f" in layer {layer!r}" if layer else
             f" in a layer of class {caller.group(1)}" if caller else
             f" at operation {node!r}" if node else "")
    message = (f"The model failed inside its compiled computation{where} ({kind}: {core}); "
               + _hint(kind, core, text))
    err = ValueError(message)
    err.backend_exception = exc
    return err
