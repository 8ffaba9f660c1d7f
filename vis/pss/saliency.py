"""Parameter-space saliency (Levin et al., NeurIPS 2022): which filters are to blame for a loss.

Paper: "Where do Models go Wrong? Parameter-Space Saliency Maps for Explainability",
https://arxiv.org/abs/2108.01335; reference implementation:
https://github.com/LevinRoman/parameter-space-saliency.

For a sample `(x, y)` with per-sample cross-entropy `L`, the saliency of weight i is
`|dL/d theta_i|`; a filter's saliency is the mean over its weights (Keras kernels: every axis but the
filter axis). Each filter is standardized by its mean and unbiased standard deviation over a
validation set, computed from *per-sample* gradients: `profile = (s - mu) / sigma`, with
`sigma <= 1e-14` treated as 1. The input-space saliency is the gradient w.r.t. the input of the
cosine similarity between the profile and a constant copy whose top-k filters are boosted.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from vis import backend as _backend
from vis.pss._data import (
    cast_images,
    check_batch_size,
    check_labels,
    dataset_size,
    image_array,
    iterate_batches,
)
from vis.pss._gradients import SaliencyGraph
from vis.pss._kernels import column_names, find_kernels
from vis.pss._losses import is_graph_model, plan_loss
from vis.pss._working_copy import CopyError, WorkingCopy
from vis.pss.stats import RunningMoments, batch_moments
from vis.pss.switch_off import turn_off
from vis.utils import checks

__all__ = ["ParameterSaliency", "STD_FLOOR"]

STD_FLOOR = 1e-14
_GRANULARITIES = ("filter", "parameter")
_METHODS = ("auto", "patches", "vmap")


class ParameterSaliency:
    """Parameter-space saliency profiles of a classifier, standardized on a validation set.

    Scores every filter of the model's convolution kernels (optionally Dense units, or single
    weights) by how strongly a sample's cross-entropy depends on it, relative to how it does on
    typical samples. The model is never modified: gradients are taken on a copy whose weights are
    refreshed from the model before every computation.

    Args:
        model: A Keras classifier with one input and one output of class scores `(batch, C)`.
        loss: How the per-sample cross-entropy against the true label is computed: `"auto"`
            (reads the operation producing the output: a softmax layer, fused activation or
            `keras.ops.softmax`, also behind Identity/Dropout/`Activation("linear")`, is
            dropped and its logits used; a linear layer's output is taken as logits; any other
            output is an error asking for an explicit choice), `"logits"`, `"probabilities"`,
            or a callable `loss(y_true, y_pred)` returning per-sample losses `(batch,)` for
            integer labels `y_true`. Defaults to `"auto"`.
        layers: Layer names (paths `"outer/inner"` in nested models) to restrict to; naming a
            Dense layer scores it. Defaults to `None` (every convolution kernel).
        include_dense: Also score the units of every Dense layer (mean over the kernel's input
            axis). Defaults to `False`.
        granularity: `"filter"` (one column per output filter) or `"parameter"` (one column per
            kernel weight, C order). Defaults to `"filter"`.
        gradient_method: `"patches"` (per-sample kernel gradients from layer inputs and output
            gradients, one batched pass; plain Conv1D/2D/3D and Dense layers of Functional or
            Sequential models), `"vmap"` (a vectorized map of per-sample gradients:
            `tf.vectorized_map`, `jax.vmap` or `torch.func.vmap`; any model), or `"auto"`
            (patches when possible). Defaults to `"auto"`.

    Attributes:
        filters: `(kernel name, index)` for every profile column, in layer then filter order.
        method: The gradient method in use.
        mean_: Per-column validation mean (float64), set by `fit` or `load`.
        std_: Per-column unbiased validation standard deviation (raw, no floor).
        n_samples_: Number of validation samples behind `mean_` and `std_`.

    Raises:
        ValueError: For a model without scorable kernels, unknown options, a model with
            several inputs or outputs, or (with `loss="auto"`) an output that is neither a
            softmax nor logits.

    Example:
        >>> psal = ParameterSaliency(model).fit(x_val, y_val, verbose=False)
        >>> profile = psal.profile(x_test[:4], y_test[:4])      # (4, len(psal.filters))
        >>> worst = psal.top_filters(x_test[:4], y_test[:4], k=5)
        >>> blamed = [psal.filters[i] for i in worst[0]]       # [(layer name, filter), ...]
        >>> pixels = psal.input_saliency(x_test[:1], y_test[:1])  # same shape as the image
    """

    def __init__(self, model, loss="auto", layers: Sequence[str] | None = None,
                 include_dense: bool = False, granularity: str = "filter",
                 gradient_method: str = "auto"):
        checks.model(model)
        include_dense = checks.boolean(include_dense, "include_dense")
        if granularity not in _GRANULARITIES:
            raise ValueError(f"`granularity` must be one of {_GRANULARITIES}, received "
                             f"{granularity!r}.")
        if gradient_method not in _METHODS:
            raise ValueError(f"`gradient_method` must be one of {_METHODS}, received "
                             f"{gradient_method!r}.")
        try:
            inputs = model.inputs
        except (AttributeError, ValueError):
            inputs = None
        if not inputs or len(inputs) != 1:
            raise ValueError(
                "`model` must be a built Keras model with one input; received "
                f"{type(model).__name__} with inputs {inputs!r}. Wrap a subclassed model in a "
                "functional one: `inp = keras.Input(shape); keras.Model(inp, model(inp))`."
            )
        output_shape = tuple(model.outputs[0].shape)
        if len(output_shape) != 2 or output_shape[-1] is None or output_shape[-1] < 2:
            raise ValueError(
                "`model` must output class scores of shape (batch, n_classes >= 2); its output "
                f"has shape {output_shape}."
            )
        self.model = model
        self.granularity = granularity
        self.n_classes = int(output_shape[-1])
        self.input_shape = tuple(None if d is None else int(d) for d in inputs[0].shape[1:])
        self.input_dtype = str(inputs[0].dtype)
        self._plan = plan_loss(model, loss)
        specs = find_kernels(model, include_dense=include_dense, layers=layers)
        self.method = self._resolve_method(model, specs, gradient_method)
        working = self._working_copy(model, specs, gradient_method)
        self._graph = SaliencyGraph(working, specs, self._plan, granularity, self.method,
                                    self.input_shape, self.input_dtype)
        self.filters = column_names(specs, granularity)
        self.mean_: np.ndarray | None = None
        self.std_: np.ndarray | None = None
        self.n_samples_: int | None = None
        self._steps: dict = {}

    def _working_copy(self, model, specs, requested: str) -> WorkingCopy:
        """The copy to differentiate, falling back to no copy when the model cannot be copied."""
        try:
            return WorkingCopy(model, specs, self._plan, taps=self.method == "patches")
        except CopyError as error:
            if requested == "patches":
                raise
            reason = error
        if self.method == "patches":
            self.method = "vmap"
            try:
                return WorkingCopy(model, specs, self._plan, taps=False)
            except CopyError as error:
                reason = error
        warnings.warn(
            f"{reason}; the final softmax cannot be dropped, so the cross-entropy is computed "
            "from probabilities (log(p) is clipped at 1e-7). Pass loss='probabilities' to "
            "silence this warning.",
            UserWarning,
            stacklevel=3,
        )
        self._plan = replace(self._plan, mode="probabilities", strip_softmax=False,
                             output_layer=None)
        return WorkingCopy(model, specs, self._plan, taps=False)

    @staticmethod
    def _resolve_method(model, specs, requested: str) -> str:
        unsupported = [s.name for s in specs if not s.patches or "/" in s.path]
        if not is_graph_model(model):
            unsupported = [f"subclassed model {type(model).__name__}"]
        if requested == "auto":
            return "vmap" if unsupported else "patches"
        if requested == "patches" and unsupported:
            raise ValueError(
                "gradient_method='patches' needs plain Conv1D/Conv2D/Conv3D/Dense layers at the "
                f"top level of a Functional or Sequential model; unsupported: {unsupported!r}. "
                "Use gradient_method='vmap'."
            )
        return requested

    @property
    def outputs(self) -> str:
        """What the model outputs: `"probabilities"`, `"logits"` or `"unknown"` (loss callable)."""
        return self._plan.outputs

    @property
    def scale_(self) -> np.ndarray:
        """The standard deviation used to standardize: `std_` with values <= 1e-14 set to 1."""
        self._check_fitted()
        return np.where(self.std_ <= STD_FLOOR, 1.0, self.std_)

    def _check_fitted(self) -> None:
        if self.mean_ is None:
            raise ValueError(
                "This ParameterSaliency has no validation statistics: call `fit(x_val, y_val)` "
                "or `load(path)` before `profile`, `top_filters`, `input_saliency` or `save`."
            )

    def _batches(self, x, y, batch_size):
        return iterate_batches(x, y, batch_size, self.input_shape, self.input_dtype,
                               self.n_classes)

    def fit(self, x, y=None, batch_size: int = 64, verbose: bool = True,
            strategy=None) -> ParameterSaliency:
        """Computes the per-filter validation mean and unbiased standard deviation.

        One gradient per sample, batched; the statistics are streamed in float64 (Chan et al.'s
        merge of per-batch moments), so memory does not grow with the data set. Under a
        `tf.distribute` strategy (TensorFlow backend) each global batch is split over the
        replicas, each replica computes the moments of its share, and these are merged: same
        result as without one.

        Args:
            x: Validation images `(n, *input_shape)`, or (TensorFlow backend) a
                `tf.data.Dataset` of batched `(images, labels)` pairs.
            y: Integer labels `(n,)` for array `x`; `None` for a dataset. Defaults to `None`.
            batch_size: Samples per gradient batch (larger dataset batches are split).
                Defaults to `64`.
            verbose: Show a tqdm progress bar. Defaults to `True`.
            strategy: A `tf.distribute.Strategy` (TensorFlow backend only). Defaults to `None`
                (the strategy in scope, if any).

        Returns:
            `self`, with `mean_`, `std_` and `n_samples_` set.

        Raises:
            ValueError: On invalid data, fewer than 2 samples, or `strategy=` / a dataset on
                the JAX or PyTorch backend.

        Example:
            >>> psal = ParameterSaliency(model).fit(x_val, y_val, batch_size=128)
            >>> psal.mean_.shape == (len(psal.filters),)
            True
        """
        from tqdm.auto import tqdm

        verbose = checks.verbose(verbose)

        if strategy is not None:
            _backend.require(
                "`strategy=` (tf.distribute)",
                alternative="Call fit() without a strategy: it runs on the default device.",
            )
        elif _backend.name() == "tensorflow":
            import tensorflow as tf

            if tf.distribute.has_strategy():
                strategy = tf.distribute.get_strategy()
        moments = RunningMoments((len(self.filters),))
        with tqdm(total=dataset_size(x), disable=not verbose, unit="sample",
                  desc="PSS statistics") as bar:
            for images, labels in self._batches(x, y, batch_size):
                if strategy is None:
                    parts = [batch_moments(self._saliency(images, labels))]
                else:
                    parts = self._replica_moments(strategy, images, labels)
                for count, mean, m2 in parts:
                    moments.update_moments(int(count), np.asarray(mean), np.asarray(m2))
                bar.update(len(images))
        if moments.count < 2:
            raise ValueError(
                f"`x`: `fit` needs at least 2 validation samples for an unbiased std; received "
                f"{moments.count}."
            )
        self.mean_, self.std_, self.n_samples_ = moments.mean, moments.std(ddof=1), moments.count
        return self

    def _saliency(self, images, labels) -> np.ndarray:
        return _backend.to_numpy(self._graph.saliency_fn(images, labels.astype(np.int32)))

    def _replica_moments(self, strategy, images, labels) -> list:
        import tensorflow as tf

        replicas = strategy.num_replicas_in_sync
        if len(images) < replicas:
            return [batch_moments(self._saliency(images, labels))]
        labels = labels.astype(np.int32)
        shards = list(zip(np.array_split(images, replicas), np.array_split(labels, replicas)))
        values = strategy.experimental_distribute_values_from_function(
            lambda context: tuple(map(tf.constant, shards[context.replica_id_in_sync_group]))
        )
        step = self._steps.get(id(strategy))
        if step is None or step[0] is not strategy:
            function = tf.function(
                lambda batch: strategy.run(self._graph.moments, args=batch),
                reduce_retracing=True,
            )
            step = self._steps[id(strategy)] = (strategy, function)
        results = step[1](values)
        return list(zip(*(strategy.experimental_local_results(part) for part in results)))

    def _per_batch(self, x, y, batch_size: int) -> np.ndarray:
        parts = [self._saliency(images, labels) for images, labels in
                 self._batches(x, y, batch_size)]
        if not parts:
            return np.zeros((0, len(self.filters)), np.float32)
        return np.concatenate(parts)

    def filter_saliency(self, x, y, batch_size: int = 64) -> np.ndarray:
        """Raw per-sample saliency: mean |dL/dW| per filter (or |dL/dw| per weight).

        Args:
            x: Images `(n, *input_shape)`.
            y: True integer labels `(n,)`.
            batch_size: Samples per gradient batch. Defaults to `64`.

        Returns:
            Array `(n, len(filters))`: float32, float64 for a float64 model (also float32 under
            a mixed-precision policy whose compute dtype is float16).

        Raises:
            ValueError: On invalid images, labels or `batch_size`.

        Example:
            >>> psal.filter_saliency(x[:2], y[:2]).shape == (2, len(psal.filters))
            True
        """
        return self._per_batch(x, y, batch_size)

    def profile(self, x, y, batch_size: int = 64) -> np.ndarray:
        """Standardized, signed saliency profile `(s - mean_) / scale_`.

        Args:
            x: Images `(n, *input_shape)`.
            y: True integer labels `(n,)`.
            batch_size: Samples per gradient batch. Defaults to `64`.

        Returns:
            Float64 array `(n, len(filters))`.

        Raises:
            ValueError: Before `fit`/`load`, or on invalid images, labels or `batch_size`.

        Example:
            >>> psal.profile(x[:2], y[:2]).mean(axis=1)   # large for misclassified samples
        """
        self._check_fitted()
        saliency = self.filter_saliency(x, y, batch_size).astype(np.float64)
        return (saliency - self.mean_) / self.scale_

    def _check_k(self, k: int) -> int:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) \
                or not 1 <= k <= len(self.filters):
            raise ValueError(f"`k` must be an integer in [1, {len(self.filters)}], received {k!r}.")
        return int(k)

    def top_filters(self, x, y, k: int = 10, batch_size: int = 64) -> np.ndarray:
        """Indices into `filters` of the `k` most salient columns per sample, descending.

        Args:
            x: Images `(n, *input_shape)`.
            y: True integer labels `(n,)`.
            k: Number of filters. Defaults to `10`.
            batch_size: Samples per gradient batch. Defaults to `64`.

        Returns:
            Int array `(n, k)`; ties keep the lower index first.

        Raises:
            ValueError: Before `fit`/`load`, for `k` out of range, or invalid data or
                `batch_size`.

        Example:
            >>> top = psal.top_filters(x[:1], y[:1], k=3)
            >>> [psal.filters[i] for i in top[0]]
        """
        self._check_fitted()
        k = self._check_k(k)
        profile = self.profile(x, y, batch_size)
        return np.argsort(-profile, axis=1, kind="stable")[:, :k]

    def input_saliency(self, x, y, k: int = 10, boost: float = 100.0,
                       filter_indices=None, batch_size: int = 32) -> np.ndarray:
        """Input-space saliency: which pixels drive the sample's most salient filters.

        The gradient w.r.t. the input of `cos(profile(x), c)`, where `c` is a constant copy of
        the profile whose top-`k` columns are multiplied by `boost`: following it would make the
        salient filters even more salient. This is a second-order gradient (through |dL/dW|).

        Args:
            x: Images `(n, *input_shape)`.
            y: True integer labels `(n,)`.
            k: Number of most salient filters to boost. Defaults to `10`.
            boost: Boost factor. Defaults to `100.0`.
            filter_indices: Boost these columns instead of the top-`k` (e.g. random filters for
                a comparison): indices `(m,)` used for every sample, or `(n, m)`.
                Defaults to `None`.
            batch_size: Samples per batch. Defaults to `32`.

        Returns:
            Signed gradient of shape `(n, *input_shape)` in the model's float dtype.

        Raises:
            ValueError: Before `fit`/`load`, for invalid `k`, `boost`, `filter_indices`,
                `batch_size` or data, or a model with an integer (e.g. uint8) input.

        Example:
            >>> grads = psal.input_saliency(x[:1], y[:1], k=10)
            >>> grads.shape == x[:1].shape
            True
        """
        self._check_fitted()
        if not np.issubdtype(np.dtype(self.input_dtype), np.floating):
            raise ValueError(
                f"`input_saliency` differentiates w.r.t. the model's input, which is "
                f"{self.input_dtype} here: integer pixels have no gradient. Explain a model with "
                "a float input (e.g. `keras.Input(shape, dtype='float32')` before its "
                "`Rescaling`, with the same layers), or use `filter_saliency` / `profile`, which "
                "work on this model."
            )
        batch_size = check_batch_size(batch_size)
        images = image_array(x, self.input_shape)
        labels = check_labels(y, len(images), self.n_classes)
        if not checks.is_real(boost) or not np.isfinite(float(boost)):
            raise ValueError(f"`boost` must be a finite number, received {boost!r}.")
        mask = np.zeros((len(images), len(self.filters)))
        if filter_indices is None:
            k = self._check_k(k)
        else:
            checks.no_booleans(filter_indices, "filter_indices")
            indices = np.asarray(filter_indices)
            if indices.ndim == 1:
                indices = np.broadcast_to(indices, (len(images), indices.size))
            if indices.ndim != 2 or indices.shape[0] != len(images) or not np.issubdtype(
                    indices.dtype, np.integer) or indices.size and (
                    indices.min() < 0 or indices.max() >= len(self.filters)):
                raise ValueError(
                    f"`filter_indices` must be integer indices into `filters` (0 to "
                    f"{len(self.filters) - 1}) of shape (m,) or ({len(images)}, m); received "
                    f"{np.asarray(filter_indices)!r}."
                )
            np.put_along_axis(mask, indices, 1.0, axis=1)
            k = 0
        parts = []
        for i in range(0, len(images), batch_size):
            grads = self._graph.input_saliency_fn(
                cast_images(images[i:i + batch_size], self.input_dtype, offset=i),
                labels[i:i + batch_size].astype(np.int32), self.mean_, self.scale_,
                mask[i:i + batch_size], int(k), np.float64(boost))
            parts.append(_backend.to_numpy(grads))
        return np.concatenate(parts) if parts else np.zeros((0, *images.shape[1:]))

    def turn_off(self, filters, bias: bool = False):
        """Context manager that temporarily zeroes filters of the model; always restores them.

        Delegates to `vis.pss.turn_off` on `self.model`: the original weights come back when
        the block exits, also when it raises. Filters are validated before anything changes.

        Args:
            filters: Filters to zero: indices into `filters` (e.g. a row of `top_filters`) or
                `(kernel name, filter index)` pairs, or a mix of both.
            bias: Also zero the filters' biases. Defaults to `False`.

        Returns:
            A context manager yielding the model with the filters zeroed.

        Raises:
            ValueError: For `granularity="parameter"` (columns are single weights, not
                filters), indices out of range, or unknown kernel names.

        Example:
            >>> top = psal.top_filters(x[:1], y[:1], k=5)[0]
            >>> with psal.turn_off(top) as model:
            ...     probabilities = model(x[:1])
        """
        if self.granularity != "filter":
            raise ValueError(
                "`turn_off` needs granularity='filter' (this ParameterSaliency scores single "
                "weights); use `vis.pss.turn_off(model, [(kernel name, filter index), ...])`."
            )
        if isinstance(filters, (str, bytes)) or not isinstance(
                filters, (Sequence, np.ndarray)):
            raise ValueError(
                "`filters` must be a list of indices into `ParameterSaliency.filters` or of "
                f"(kernel name, filter index) pairs; received {filters!r}."
            )
        pairs = []
        for item in list(filters):
            if isinstance(item, (int, np.integer)) and not isinstance(item, (bool, np.bool_)):
                if not 0 <= int(item) < len(self.filters):
                    raise ValueError(
                        f"`filters` index {int(item)} is out of range: indices into "
                        f"`ParameterSaliency.filters` are 0 to {len(self.filters) - 1}."
                    )
                pairs.append(self.filters[int(item)])
            else:
                pairs.append(item)
        return turn_off(self.model, pairs, bias=bias)

    def save(self, path: str | os.PathLike) -> None:
        """Saves the validation statistics (and the column names) to an `.npz` file.

        Args:
            path: File path; NumPy appends `.npz` if missing.

        Raises:
            ValueError: Before `fit`/`load`.

        Example:
            >>> psal.save("pss_stats.npz")
        """
        self._check_fitted()
        np.savez(
            path,
            layer=np.array([name for name, _ in self.filters], dtype=str),
            index=np.array([index for _, index in self.filters], dtype=np.int64),
            mean=self.mean_, std=self.std_, n_samples=np.int64(self.n_samples_),
            granularity=np.array(self.granularity),
        )

    def load(self, path: str | os.PathLike) -> ParameterSaliency:
        """Loads statistics saved by `save`, checking they describe the same columns.

        Args:
            path: Path of the `.npz` file, or the path given to `save` (`.npz` is appended
                when `path` does not exist and `path + ".npz"` does).

        Returns:
            `self`, with `mean_`, `std_` and `n_samples_` set.

        Raises:
            FileNotFoundError: If there is no such file.
            ValueError: If the file is not one `save` wrote (a missing key), its columns differ
                from this object's `filters`, or `mean` / `std` / `n_samples` have the wrong
                length or type, NaN / inf values, or negative deviations.

        Example:
            >>> psal = ParameterSaliency(model).load("pss_stats.npz")
        """
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"`path` must be a file path (str or os.PathLike), got "
                            f"{type(path).__name__}.")
        path = os.fsdecode(os.fspath(path))
        if not os.path.exists(path) and os.path.exists(path + ".npz"):
            path = path + ".npz"  # `save` (NumPy) appended the suffix
        if not os.path.exists(path):
            raise FileNotFoundError(f"`path`: no statistics file {path!r} (nor "
                                    f"{path + '.npz'!r}).")
        path = checks.file_path(path, "path", "statistics file")
        try:
            archive = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            raise ValueError(f"`path` {path!r} is not a file written by ParameterSaliency.save "
                             "(not a NumPy .npz archive).") from None
        with archive as data:
            keys = ("layer", "index", "granularity", "mean", "std", "n_samples")
            missing = [k for k in keys if k not in data.files]
            if missing:
                raise ValueError(
                    f"{path!r} is not a file written by ParameterSaliency.save: missing "
                    f"{missing}."
                )
            filters = list(zip(data["layer"].tolist(), data["index"].tolist()))
            if filters != self.filters or str(data["granularity"]) != self.granularity:
                raise ValueError(
                    f"The statistics in {path!r} describe {len(filters)} "
                    f"{data['granularity']} columns of kernels {sorted(set(data['layer']))!r}; "
                    f"this ParameterSaliency has {len(self.filters)} {self.granularity} columns "
                    f"of {sorted({name for name, _ in self.filters})!r}."
                )
            mean, std = data["mean"], data["std"]
            for name, arr in (("mean", mean), ("std", std)):
                if arr.shape != (len(self.filters),) or arr.dtype.kind not in "fiu":
                    raise ValueError(
                        f"{path!r}: `{name}` has shape {arr.shape} and dtype {arr.dtype}; "
                        f"expected {len(self.filters)} numbers, one per column."
                    )
                if not np.all(np.isfinite(arr)):
                    raise ValueError(f"{path!r}: `{name}` contains NaN or inf values.")
            if np.any(std < 0):
                raise ValueError(f"{path!r}: `std` has negative values.")
            n = data["n_samples"]
            if n.shape != () or n.dtype.kind not in "iu" or int(n) < 1:
                raise ValueError(f"{path!r}: `n_samples` must be a positive int, got {n!r}.")
            self.mean_ = mean.astype(np.float64)
            self.std_ = std.astype(np.float64)
            self.n_samples_ = int(data["n_samples"])
        return self
