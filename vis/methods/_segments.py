"""Segments: the features of KernelSHAP and LIME on images (superpixels, or the user's labels).

A segmentation is one int label per pixel; features are the distinct labels, renumbered
`0..M-1`. A coalition `z` in {0, 1}^M keeps the segments where `z = 1` and replaces the others
by the baseline; a segment's value is given to each of its pixels (and channels).
"""

from __future__ import annotations

import numpy as np

__all__ = ["resolve_segments", "slic_segments", "coalition_inputs", "to_pixels"]


def slic_segments(image: np.ndarray, n_segments: int) -> np.ndarray:
    """SLIC superpixels (scikit-image) of one channels-last image `(H, W, C)`.

    The image is min-max scaled to [0, 1] first (SLIC's compactness assumes that range); one
    channel is segmented as a grayscale image, three as RGB (in CIELAB), others as they are.

    Example:
        >>> slic_segments(x[0], 8).shape
        (8, 8)
    """
    from skimage.segmentation import slic

    img = image.astype("float64")
    span = img.max() - img.min()
    img = (img - img.min()) / span if span > 0 else np.zeros_like(img)
    if img.shape[-1] == 1:
        return slic(img[..., 0], n_segments=n_segments, channel_axis=None, start_label=0)
    return slic(img, n_segments=n_segments, channel_axis=-1, start_label=0,
                convert2lab=img.shape[-1] == 3)


def resolve_segments(segments, x: np.ndarray, spatial: tuple[int, ...], caxis: int,
                     n_segments: int) -> list[np.ndarray]:
    """Each image's segmentation, labels renumbered `0..M_i-1`.

    Args:
        segments: `"slic"`, an int array `(H, W)` (the same for every image) or `(N, H, W)`.
        x: The validated batch of images.
        spatial: The spatial axes of `x`.
        caxis: The channel axis of `x`.
        n_segments: SLIC's target number of segments.

    Returns:
        One int array `(H, W)` per image.

    Raises:
        ValueError: Unknown names or wrong shapes.
        TypeError: Non-integer labels.
    """
    size = tuple(x.shape[a] for a in spatial)
    if isinstance(segments, str):
        if segments != "slic":
            raise ValueError(f"`segments` must be 'slic' or an int array {size} or "
                             f"{(len(x),) + size}, got {segments!r}.")
        images = np.moveaxis(x, 1, -1) if caxis == 1 else x
        labels = [slic_segments(img, n_segments) for img in images]
    else:
        arr = np.asarray(segments)
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"`segments` must hold integer labels, got dtype {arr.dtype}.")
        if arr.shape == size:
            labels = [arr] * len(x)
        elif arr.shape == (len(x),) + size:
            labels = list(arr)
        else:
            raise ValueError(f"`segments` has shape {arr.shape}; expected the images' spatial "
                             f"shape {size} or {(len(x),) + size}.")
    return [np.unique(lab, return_inverse=True)[1].reshape(size) for lab in labels]


def coalition_inputs(image: np.ndarray, base: np.ndarray, labels: np.ndarray, z: np.ndarray,
                     caxis: int) -> np.ndarray:
    """Copies of `image` keeping the segments where `z` is 1, the baseline elsewhere.

    Args:
        image: One image (channels at `caxis`, counted with a batch axis).
        base: Its baseline, shaped like `image`.
        labels: Its segmentation `(H, W)`, labels `0..M-1`.
        z: Coalitions `(B, M)` of 0/1.
        caxis: The channel axis of a batch (`1` or last).

    Returns:
        `(B, *image.shape)`.
    """
    keep = z.astype(bool)[:, labels]  # (B, H, W)
    keep = np.expand_dims(keep, 1 if caxis == 1 else keep.ndim)
    return np.where(keep, image, base)


def to_pixels(values: np.ndarray, labels: np.ndarray, shape: tuple[int, ...],
              caxis: int) -> np.ndarray:
    """A map shaped like one image (`shape`) giving each pixel its segment's value."""
    spatial = values[labels]
    return np.broadcast_to(np.expand_dims(spatial, 0 if caxis == 1 else spatial.ndim), shape)
