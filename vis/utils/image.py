"""Image helpers: per-map normalization, channel reduction, overlays.

`overlay(array1, array2, alpha)` is keras-vis' blend of two images of the same shape;
`overlay_heatmap(image, heatmap, alpha, cmap)` colors a heat map and blends it over an image.
"""

from __future__ import annotations

import numpy as np

__all__ = ["normalize", "reduce_channels", "overlay", "overlay_heatmap", "to_rgb"]


def normalize(array: np.ndarray, batch: bool = False) -> np.ndarray:
    """Min-max scales a map to [0, 1]; a constant map becomes all zeros (never NaN).

    Args:
        array: A map, or a batch of maps when `batch=True`.
        batch: Scale each `array[i]` separately. Defaults to `False`.

    Returns:
        A float array of the same shape with values in [0, 1].

    Example:
        >>> normalize(np.array([1.0, 3.0]))
        array([0., 1.])
        >>> normalize(np.array([[0.0, 2.0], [1.0, 1.0]]), batch=True)
        array([[0., 1.],
               [0., 0.]])
    """
    raw = np.asarray(array)
    if raw.dtype == object or not (np.issubdtype(raw.dtype, np.number) or raw.dtype == bool):
        raise TypeError(f"`array` must hold numbers, got dtype {raw.dtype}.")
    a = np.asarray(array, dtype="float64" if raw.dtype == np.float64 else "float32")
    if batch:
        axes = tuple(range(1, a.ndim))
        lo = a.min(axis=axes, keepdims=True)
        hi = a.max(axis=axes, keepdims=True)
    else:
        lo, hi = a.min(), a.max()
    span = hi - lo
    safe = np.where(span > 0, span, 1.0)
    return np.where(span > 0, (a - lo) / safe, 0.0).astype(a.dtype)


def reduce_channels(maps: np.ndarray, channel_axis: int = -1, how: str = "max") -> np.ndarray:
    """Reduces the channel axis of a batch of maps to one value per pixel.

    Used to turn `keepdims=True` maps `(N, H, W, C)` into `(N, H, W)` heat maps; `'max'` is
    what `keepdims=False` does in the `visualize_*` functions.

    Args:
        maps: An array with a channel axis, e.g. `(N, H, W, C)`.
        channel_axis: The axis to reduce. Defaults to `-1`.
        how: `'max'`, `'sum'` or `'mean'`. Defaults to `'max'`.

    Returns:
        The array without `channel_axis`.

    Raises:
        ValueError: If `how` is not one of `'max'`, `'sum'`, `'mean'`.

    Example:
        >>> reduce_channels(np.ones((2, 8, 8, 3)), how="sum").shape
        (2, 8, 8)
    """
    ops = {"max": np.max, "sum": np.sum, "mean": np.mean}
    if how not in ops:
        raise ValueError(f"`how` must be one of {sorted(ops)}, got {how!r}.")
    return ops[how](maps, axis=channel_axis)


def to_rgb(image: np.ndarray) -> np.ndarray:
    """Converts a grayscale or RGB image of any value range to an `(H, W, 3)` image in [0, 1].

    A grayscale image is repeated over three channels; an alpha channel is dropped. The result
    is min-max scaled over the whole image (a constant image becomes black).

    Args:
        image: An `(H, W)`, `(H, W, 1)`, `(H, W, 3)` or `(H, W, 4)` array.

    Returns:
        A float32 array of shape `(H, W, 3)` with values in [0, 1].

    Raises:
        ValueError: If `image` has another shape.

    Example:
        >>> rgb = to_rgb(np.array([[0.0, 2.0], [4.0, 4.0]]))
        >>> rgb.shape, rgb[0, 1]
        ((2, 2, 3), array([0.5, 0.5, 0.5], dtype=float32))
    """
    img = np.asarray(image, dtype="float32")
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    if img.ndim != 3 or img.shape[-1] not in (3, 4):
        raise ValueError(f"`image` must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got shape {img.shape}.")
    return normalize(img[..., :3])


def overlay(array1: np.ndarray, array2: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blends `array1` over `array2` with weight `alpha` (keras-vis' `overlay`).

    `array1 * alpha + array2 * (1 - alpha)`, cast to `array1`'s dtype: two uint8 images give a
    uint8 image (truncated, as keras-vis does). To color a heat map and blend it over an image
    of any range, use `overlay_heatmap`.

    Args:
        array1: The first image (e.g. a jet-colored heat map, uint8).
        array2: The second image, of the same shape.
        alpha: The weight of `array1`, in [0, 1]: `0` gives `array2`, `1` gives `array1`.
            Defaults to `0.5`.

    Returns:
        The blend, of `array1`'s shape and dtype.

    Raises:
        ValueError: If `alpha` is outside [0, 1] or the shapes differ.

    Example:
        >>> a = np.full((2, 2, 3), 200, "uint8")
        >>> b = np.zeros((2, 2, 3), "uint8")
        >>> overlay(a, b, alpha=0.5)[0, 0]
        array([100, 100, 100], dtype=uint8)
    """
    a1, a2 = np.asarray(array1), np.asarray(array2)
    try:
        weight = float(alpha)
    except (TypeError, ValueError):
        weight = float("nan")
    if isinstance(alpha, (bool, np.bool_)) or not 0.0 <= weight <= 1.0:
        raise ValueError(f"`alpha` must be in [0, 1], got {alpha!r}.")
    if a1.shape != a2.shape:
        raise ValueError(
            f"`array1` and `array2` must have the same shape, got {a1.shape} and {a2.shape}."
        )
    for name, a in (("array1", a1), ("array2", a2)):
        if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
            raise TypeError(f"`{name}` must hold numbers, got dtype {a.dtype}.")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"`{name}` contains NaN or inf values.")
    return (a1 * weight + a2 * (1.0 - weight)).astype(a1.dtype)


def overlay_heatmap(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.5,
                    cmap: str = "jet") -> np.ndarray:
    """Colors a heat map and blends it over an image (any value ranges).

    What `overlay` was before vis followed keras-vis' `overlay(array1, array2, alpha)`.

    Args:
        image: `(H, W)`, `(H, W, 1)` or `(H, W, 3)` image, any value range (it is min-max scaled).
        heatmap: `(h, w)` map; resized to `(H, W)` (bilinear) if needed and min-max scaled.
        alpha: Weight of the heat map, in [0, 1]. Defaults to `0.5`.
        cmap: A matplotlib colormap name. Defaults to `"jet"`.

    Returns:
        An `(H, W, 3)` float32 RGB array in [0, 1].

    Raises:
        ValueError: If `alpha` is outside [0, 1] or the heat map is not 2-D.

    Example:
        >>> from vis.visualization import visualize_saliency
        >>> heat = visualize_saliency(model, -1, 3, x[0])
        >>> overlay_heatmap(x[0], heat, alpha=0.4).shape
        (8, 8, 3)
    """
    import matplotlib

    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"`alpha` must be in [0, 1], got {alpha!r}.")
    rgb = to_rgb(image)
    heat = np.asarray(heatmap, dtype="float32")
    if heat.ndim == 3 and heat.shape[-1] == 1:
        heat = heat[..., 0]
    if heat.ndim != 2:
        raise ValueError(f"`heatmap` must be 2-D (H, W), got shape {heat.shape}.")
    if heat.shape != rgb.shape[:2]:
        import keras

        resized = keras.ops.image.resize(heat[..., None], rgb.shape[:2], interpolation="bilinear",
                                         data_format="channels_last")
        heat = np.asarray(keras.ops.convert_to_numpy(resized))[..., 0]
    colored = matplotlib.colormaps[cmap](normalize(heat))[..., :3].astype("float32")
    return ((1.0 - alpha) * rgb + alpha * colored).astype("float32")
