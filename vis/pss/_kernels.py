"""Which weights parameter-space saliency looks at, and how they are grouped into filters.

A `KernelSpec` describes one kernel variable of one layer: how its per-sample absolute gradient
is reduced to one value per output filter (or per weight), and which slice of the kernel a filter
owns (used to switch filters off). Layers are named by their path: `"conv1"`, or `"block/conv1"`
inside a nested model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np

from vis.utils.model import iter_layers

__all__ = ["KernelSpec", "find_kernels", "column_names"]

_CONV = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
_TRANSPOSE = (keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose,
              keras.layers.Conv3DTranspose)
_DEPTHWISE = (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)
_SEPARABLE = (keras.layers.SeparableConv1D, keras.layers.SeparableConv2D)


@dataclass(frozen=True)
class KernelSpec:
    """One kernel variable and the way its weights are grouped into filters.

    Attributes:
        path: Path of the layer (`"conv1"`, `"block/conv1"` in a nested model).
        name: Name of the profile columns of this kernel: the path, or `path + "/depthwise"` and
            `path + "/pointwise"` for the two kernels of a separable convolution.
        attr: Attribute of the layer holding the kernel variable.
        kind: `"conv"` (filters on the last axis), `"transpose"` (filters on axis -2),
            `"depthwise"` (one filter per input channel and depth multiplier) or `"dense"`.
        kernel_shape: Shape of the kernel.
        patches: Whether the per-sample gradient of this kernel can be computed from the layer's
            input and output gradient (plain `Conv1D`/`Conv2D`/`Conv3D`/`Dense` layers).
    """

    path: str
    name: str
    attr: str
    kind: str
    kernel_shape: tuple
    patches: bool

    @property
    def n_filters(self) -> int:
        """Number of output filters (units for a Dense kernel)."""
        if self.kind == "transpose":
            return int(self.kernel_shape[-2])
        if self.kind == "depthwise":
            return int(self.kernel_shape[-2] * self.kernel_shape[-1])
        return int(self.kernel_shape[-1])

    def n_columns(self, granularity: str) -> int:
        """Number of profile columns: filters, or weights for `granularity="parameter"`."""
        if granularity == "parameter":
            return int(np.prod(self.kernel_shape))
        return self.n_filters

    def filter_index(self, f: int) -> tuple:
        """The index into the kernel of the weights of filter `f`."""
        if self.kind == "transpose":
            return (Ellipsis, f, slice(None))
        if self.kind == "depthwise":
            multiplier = int(self.kernel_shape[-1])
            return (Ellipsis, f // multiplier, f % multiplier)
        return (Ellipsis, f)


def _plain(layer) -> bool:
    """True for an unmodified Keras Conv/Dense whose gradient the patches rule reproduces."""
    if getattr(layer, "lora_enabled", False) or getattr(layer, "quantization_mode", None):
        return False
    if type(layer) in (keras.layers.Dense,):
        return True
    if type(layer) not in _CONV:
        return False
    return layer.data_format == "channels_last" and layer.groups == 1


def _specs_of(path: str, layer, include_dense: bool) -> list[KernelSpec]:
    if isinstance(layer, _SEPARABLE):
        return [
            KernelSpec(path, f"{path}/depthwise", "depthwise_kernel", "depthwise",
                       tuple(layer.depthwise_kernel.shape), False),
            KernelSpec(path, f"{path}/pointwise", "pointwise_kernel", "conv",
                       tuple(layer.pointwise_kernel.shape), False),
        ]
    if isinstance(layer, _DEPTHWISE):
        return [KernelSpec(path, path, "kernel", "depthwise", tuple(layer.kernel.shape), False)]
    if isinstance(layer, _TRANSPOSE):
        return [KernelSpec(path, path, "kernel", "transpose", tuple(layer.kernel.shape), False)]
    if isinstance(layer, _CONV):
        return [KernelSpec(path, path, "kernel", "conv", tuple(layer.kernel.shape), _plain(layer))]
    if include_dense and isinstance(layer, keras.layers.Dense):
        return [KernelSpec(path, path, "kernel", "dense", tuple(layer.kernel.shape), _plain(layer))]
    return []


def find_kernels(
    model, include_dense: bool = False, layers: Sequence[str] | None = None
) -> list[KernelSpec]:
    """Lists the kernels that parameter-space saliency scores, in layer order.

    Args:
        model: A built Keras model.
        include_dense: Also score the units of `Dense` layers. Defaults to `False`.
        layers: Restrict to these layer paths (or separable-kernel names). Defaults to `None`
            (every convolution, plus every Dense layer when `include_dense`).

    Returns:
        A list of `KernelSpec`, in model layer order.

    Raises:
        ValueError: If the model has no such layer, or a named layer has no kernel to score.
    """
    found: list[tuple[str, keras.layers.Layer]] = []
    seen: set[int] = set()
    for path, layer in iter_layers(model):
        if id(layer) not in seen:
            seen.add(id(layer))
            found.append((path, layer))
    specs: list[KernelSpec] = []
    for path, layer in found:
        if not isinstance(layer, keras.Model) and layer.built:
            specs.extend(_specs_of(path, layer, include_dense or layers is not None))
    if layers is not None:
        if isinstance(layers, str):
            layers = [layers]
        wanted = list(layers)
        known = {s.path for s in specs} | {s.name for s in specs}
        unknown = [name for name in wanted if name not in known]
        if unknown:
            all_paths = [p for p, _ in found]
            raise ValueError(
                f"`layers` names no convolution or Dense layer: {unknown!r}. Layers with a kernel "
                f"to score: {sorted({s.name for s in specs})!r}; all layers: {all_paths!r}."
            )
        specs = [s for s in specs if s.path in wanted or s.name in wanted]
    elif not specs:
        names = [p for p, _ in found]
        hint = "" if include_dense else " Pass `include_dense=True` to score Dense units instead."
        raise ValueError(
            f"Model {model.name!r} has no convolution layer to score (layers: {names!r})." + hint
        )
    return specs


def column_names(specs: Sequence[KernelSpec], granularity: str) -> list[tuple[str, int]]:
    """Names the profile columns: `(kernel name, filter index)` or `(kernel name, weight index)`."""
    return [(s.name, i) for s in specs for i in range(s.n_columns(granularity))]
