"""The per-batch sums of `fit_patterns` (private): what one compiled step computes per layer.

For every kernel layer and batch the step returns *raw* float64 sums over the layer's samples
(input vectors of a Dense layer, input patches of a convolution): `n`, `sum x`, `sum y`,
`sum x y^T` and their positive-regime versions (see `estimators.LayerStats`), with `y = w^T x`
without bias. They add up over batches and replicas.

The products are computed in `dtype` on *batch-shifted* values, `x_l = x - c_b` and
`y_l = y - w^T c_b - d_b`, and converted exactly to raw sums in float64 afterwards, so that
float32 products do not cancel:

- `c_b` is the batch mean of the input channels whose mean exceeds twice their standard
  deviation, 0 for the others (data on a coarse grid, e.g. pixels `k / 16` or integers, keeps
  exact float sums when it is not shifted); `d_b` is the batch mean of `y - w^T c_b`;
- fast path (float32, the common case): `y` is the forward pass's own pre-activation minus the
  bias (no extra convolution); convolutions with padding are not centred (`c_b = 0`);
- exact path (always in float64; in float32 for the layers that need it): the input is padded
  explicitly and shifted by `c_b` (so every patch, padding included, is shifted by the same
  `c_b`) and `y_l` is recomputed from it with the kernel (one more convolution). A float32 fit
  uses it for a layer when, on the first batch, a neuron's `|bias| + |E[y]|` exceeds 16 times
  the standard deviation of its `y` (`pre - bias`, or `y - E[y]`, would cancel), or a padded
  convolution has a channel to centre. The choice is made once per fit (the first batch is run
  once more for it), so that the compiled step has no branches.
"""

from __future__ import annotations

import keras

from vis.pattern import _layers

ops = keras.ops

__all__ = ["FitPlan"]

_CENTRE_RATIO = 2.0  # centre an input channel when |batch mean| > 2 batch std
_CANCEL_RATIO = 16.0  # recompute y when |bias| + |mean y| > 16 std y


class FitPlan:
    """The per-batch sums of one fit pass (compiled once per model copy and configuration).

    Args:
        model: The user's model (its regime sources are read from it).
        layers: `(path, layer)` of the kernel layers to fit.
        two_component: Whether to collect the positive-regime sums.
        dtype: `'float32'` or `'float64'`, the precision of the products.
        negative: Whether `sum x y^T` over all samples is needed besides the positive regime.
    """

    def __init__(self, model: keras.Model, layers, two_component: bool, dtype: str,
                 negative: bool):
        self.paths = [path for path, _ in layers]
        self.two_component = two_component
        self.all_samples = negative or not two_component  # sum x y over all samples
        self.dtype = dtype
        self.sources = _layers.mask_sources(model)
        self.exact = frozenset(self.paths) if dtype != "float32" else frozenset()
        self.needs_probe = dtype == "float32"

    @property
    def key(self) -> str:
        """The cache key of the compiled step."""
        return (f"fit:{self.two_component}:{self.all_samples}:{self.dtype}:"
                f"{sorted(self.exact)}")

    def taps(self) -> tuple[set, set, set]:
        """`(input paths, output paths, pre-activation paths)` the pass records."""
        inputs, outputs = set(self.paths), set()
        pre = set(self.paths) if self.dtype == "float32" else set()
        if self.two_component:
            more = _layers.taps(self.sources, self.paths)
            inputs, outputs, pre = inputs | more[0], outputs | more[1], pre | more[2]
        return inputs, outputs, pre

    def probe_fn(self, streamer):
        """`fn(records, extra) -> {path: 1.0 if the layer needs the exact path else 0.0}`."""

        def fn(rec, extra):
            out = {}
            for path in self.paths:
                layer = streamer.layers[path]
                _, c_b, y, bias = self._inputs(layer, rec, path, centre=_is_padded(layer))
                rows = _layers.to_rows(layer, y)
                y_mean = ops.mean(rows, 0)
                y_std = ops.sqrt(ops.mean(ops.square(rows - y_mean), 0))
                scale = ops.abs(y_mean) + (0.0 if bias is None else ops.abs(bias))
                need = ops.any(ops.logical_and(y_std > 0, scale > _CANCEL_RATIO * y_std))
                if c_b is not None:
                    need = ops.logical_or(need, ops.any(ops.not_equal(c_b, 0)))
                out[path] = ops.cast(need, "float64")
            return out

        return fn

    def set_probe(self, result: dict) -> None:
        """Uses the exact path for the layers `probe_fn` flagged."""
        self.exact = frozenset(p for p in self.paths if float(result[p]) > 0)

    def batch_fn(self, streamer):
        """`fn(records, extra) -> {path: raw float64 sums}` for `Streamer.run`."""

        def fn(rec, extra):
            return {path: self._layer_sums(streamer.layers[path], rec, path)
                    for path in self.paths}

        return fn

    def _inputs(self, layer, rec: dict, path: str, centre: bool = True):
        """`(x, c_b or None, y or None, bias or None)` of one layer in `dtype`.

        `c_b` (`None` if not `centre`) holds the batch means of the channels whose mean exceeds
        twice their standard deviation (zeros elsewhere); `y` is the pre-activation minus the bias
        (`None` when it is not recorded).
        """
        x = ops.cast(rec[(path, "in")], self.dtype)
        c_b = None
        if centre:
            rank = len(x.shape)
            axes = tuple(a for a in range(rank) if a != _layers.channel_axis_of(layer) % rank)
            mean = ops.mean(x, axis=axes)
            mean_sq = ops.mean(ops.square(x), axis=axes)
            # |mean| > r std  <=>  (1 + r^2) mean^2 > r^2 E[x^2]
            r2 = _CENTRE_RATIO ** 2
            c_b = ops.where((1 + r2) * ops.square(mean) > r2 * mean_sq, mean, ops.zeros_like(mean))
        if (path, "pre") not in rec:
            return x, c_b, None, None
        y = ops.cast(rec[(path, "pre")], self.dtype)
        bias = getattr(layer, "bias", None)
        if bias is not None:
            bias = ops.cast(_layers.value(bias), self.dtype)
            y = y - _layers.unit_vector(layer, bias, len(y.shape))
        return x, c_b, y, bias

    def _layer_sums(self, layer, rec: dict, path: str) -> dict:
        exact = path in self.exact
        # A padded convolution is centred only on the exact path (explicit padding).
        x, c_b, y, _ = self._inputs(layer, rec, path, centre=exact or not _is_padded(layer))
        rank = len(x.shape)
        kernel = ops.cast(_layers.value(layer.kernel), self.dtype)
        m = None
        if self.two_component:
            m = ops.cast(rec[self.sources[path]] > 0, self.dtype)
        if exact:
            xl = _layers.pad_input(layer, x) - _layers.unit_vector(layer, c_b, rank)
            local = self._local_sums(layer, xl, _layers.valid_op(layer)(xl, kernel), m,
                                     padded=True)
        elif c_b is None:
            local = self._local_sums(layer, x, y, m, padded=False)
        else:
            shift = ops.matmul(ops.tile(c_b, [_layers.patch_size(layer)]),
                               ops.reshape(kernel, (-1, kernel.shape[-1])))
            xl = x - _layers.unit_vector(layer, c_b, rank)
            yl = y - _layers.unit_vector(layer, shift, len(y.shape))  # constant error: cancels
            local = self._local_sums(layer, xl, yl, m, padded=False)
        return self._to_raw(layer, local, c_b)

    def _local_sums(self, layer, xl, y_raw, m, padded: bool):
        """Local sums of `x_l` and `y_l = y_raw - d_b` (`d_b` the batch mean, in `local['d_b']`)."""
        axis = _layers.channel_axis_of(layer)
        rank = len(y_raw.shape)
        rows = _layers.to_rows
        d_b = ops.mean(rows(layer, y_raw), 0)
        yl = y_raw - _layers.unit_vector(layer, d_b, rank)
        units = yl.shape[axis]
        cols = [ops.ones_like(ops.take(yl, [0], axis=axis))]
        if self.all_samples:
            cols.append(yl)
        if m is not None:
            m = ops.reshape(m, ops.shape(yl))
            cols += [m, yl * m]
        g = ops.concatenate(cols, axis)
        xtg = ops.cast(_layers.patch_products(layer, xl, g, padded=padded), "float64")
        f64 = "float64"
        yl_rows = rows(layer, yl)
        local = {
            "n": ops.cast(ops.shape(yl_rows)[0], f64),
            "sx": xtg[:, 0],
            "sy": ops.cast(ops.sum(yl_rows, 0), f64),
        }
        start = 1
        if self.all_samples:
            local["sxy"] = xtg[:, 1:1 + units]
            start += units
        if m is not None:
            local.update({
                "n_pos": ops.cast(ops.sum(rows(layer, m), 0), f64),
                "bx_pos": xtg[:, start:start + units],
                "axy_pos": xtg[:, start + units:],
                "cy_pos": ops.cast(ops.sum(rows(layer, yl * m), 0), f64),
            })
        local["d_b"] = ops.cast(d_b, f64)
        return local

    @staticmethod
    def _to_raw(layer, local: dict, c_b) -> dict:
        """Local sums of `x_l = x - dc`, `y_l = y - dd` -> raw sums of `x`, `y`, exactly in float64.

        `dc` is `c_b` tiled over the kernel positions (`None`: zero), `dd = d_b + w^T dc`.
        """
        n, sx, sy, dd = local["n"], local["sx"], local["sy"], local["d_b"]
        if c_b is None:
            raw = {"n": n, "sx": sx, "sy": sy + n * dd}
            if "sxy" in local:
                raw["sxy"] = local["sxy"] + sx[:, None] * dd[None, :]
            if "n_pos" in local:
                n_pos, bx, cy = local["n_pos"], local["bx_pos"], local["cy_pos"]
                raw.update({"n_pos": n_pos, "bx_pos": bx, "cy_pos": cy + dd * n_pos,
                            "axy_pos": local["axy_pos"] + bx * dd[None, :]})
            return raw
        f64 = "float64"
        units = layer.kernel.shape[-1]
        dc = ops.tile(ops.cast(c_b, f64), [_layers.patch_size(layer)])  # kernel.reshape rows
        w = ops.reshape(ops.cast(_layers.value(layer.kernel), f64), (-1, units))
        dd = dd + ops.matmul(dc, w)  # (U,)
        raw = {"n": n, "sx": sx + n * dc, "sy": sy + n * dd}
        if "sxy" in local:
            raw["sxy"] = (local["sxy"] + dc[:, None] * sy[None, :] + sx[:, None] * dd[None, :]
                          + n * dc[:, None] * dd[None, :])
        if "n_pos" in local:
            n_pos, bx, cy = local["n_pos"], local["bx_pos"], local["cy_pos"]
            raw.update({
                "n_pos": n_pos,
                "bx_pos": bx + dc[:, None] * n_pos[None, :],
                "axy_pos": (local["axy_pos"] + dc[:, None] * cy[None, :] + bx * dd[None, :]
                            + dc[:, None] * (dd * n_pos)[None, :]),
                "cy_pos": cy + dd * n_pos,
            })
        return raw


def _is_padded(layer) -> bool:
    return not isinstance(layer, keras.layers.Dense) and layer.padding != "valid"
