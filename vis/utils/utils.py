"""keras-vis' `vis.utils.utils`: the helpers every keras-vis example starts with.

`from vis.utils import utils` then `utils.find_layer_idx(model, "preds")`,
`utils.apply_modifications(model)`, `utils.load_img(path, target_size=(224, 224))`, ... work as
they did in keras-vis, with keras-vis' formulas (`normalize` and `deprocess_input` add Keras'
epsilon, `1e-7`, exactly where keras-vis did).
"""

from __future__ import annotations

import keras
import numpy as np

from vis.utils.model import find_layer_idx

__all__ = ["find_layer_idx", "apply_modifications", "load_img", "bgr2rgb", "get_num_filters",
           "normalize", "deprocess_input"]

_EPS = 1e-7  # keras.config.epsilon()'s default, which keras-vis used


def apply_modifications(model: keras.Model, custom_objects: dict | None = None) -> keras.Model:
    """Returns `model` itself: vis needs no rebuilt model (a documented no-op).

    keras-vis saved and reloaded the model so that an in-place change such as
    `model.layers[-1].activation = keras.activations.linear` took effect, mostly to swap a
    final softmax for a linear activation. vis explains a softmax layer on its pre-softmax
    logits already, and notices in-place architecture changes by itself (it rebuilds its copy
    of the model), so nothing needs to be done here.

    Args:
        model: A Keras model.
        custom_objects: Ignored (keras-vis passed them to `load_model`). Defaults to `None`.

    Returns:
        `model`, unchanged.

    Raises:
        TypeError: If `model` is not a `keras.Model`.

    Example:
        >>> apply_modifications(model) is model
        True
    """
    del custom_objects
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model, got {type(model).__name__}.")
    return model


def load_img(path, grayscale: bool = False, target_size: tuple[int, int] | None = None
             ) -> np.ndarray:
    """Loads an image file as a uint8 array (keras-vis' `load_img`).

    Args:
        path: The image file path.
        grayscale: Load as a 2-D grayscale image. Defaults to `False` (RGB, `(H, W, 3)`).
        target_size: `(height, width)` to resize to (kept as uint8, like keras-vis' resize
            with `preserve_range=True`). Defaults to `None`.

    Returns:
        A uint8 array: `(H, W)` for grayscale, else `(H, W, 3)`.

    Raises:
        ValueError: If the file cannot be read as an image, or `target_size` is not two
            positive ints.

    Example:
        >>> img = load_img("ouzel.jpg", target_size=(224, 224))
        >>> img.shape, img.dtype
        ((224, 224, 3), dtype('uint8'))
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert("L" if grayscale else "RGB")
            img = np.asarray(im)
    except (OSError, UnidentifiedImageError) as exc:
        raise ValueError(f"`path`: could not read {str(path)!r} as an image ({exc}).") from None
    if target_size is not None:
        size = tuple(target_size)
        if len(size) != 2 or not all(isinstance(v, (int, np.integer)) and v > 0 for v in size):
            raise ValueError(f"`target_size` must be (height, width), got {target_size!r}.")
        from skimage.transform import resize

        img = resize(img, size, preserve_range=True).astype("uint8")
    return img


def bgr2rgb(img: np.ndarray) -> np.ndarray:
    """Reverses the channel order: BGR to RGB and back (keras-vis' `bgr2rgb`).

    Args:
        img: An image `(..., C)`.

    Returns:
        A view with the last axis reversed.

    Example:
        >>> bgr2rgb(np.array([[[1, 2, 3]]]))
        array([[[3, 2, 1]]])
    """
    return np.asarray(img)[..., ::-1]


def get_num_filters(layer: keras.layers.Layer) -> int:
    """The number of filters of a layer (units of a Dense layer), keras-vis' `get_num_filters`.

    Args:
        layer: A built Keras layer with one output.

    Returns:
        The size of the output's channel axis (the last axis, or axis 1 for `channels_first`).

    Raises:
        ValueError: If the layer has no single output.

    Example:
        >>> get_num_filters(model.get_layer("conv2"))
        16
    """
    from vis.utils.model import channel_axis, output_shape

    if not isinstance(layer, keras.layers.Layer):
        raise TypeError(f"`layer` must be a Keras layer, got {type(layer).__name__}.")
    try:
        shape = tuple(output_shape(layer))
    except (AttributeError, ValueError) as exc:
        raise ValueError(
            f"`layer` {getattr(layer, 'name', layer)!r} has no single output shape ({exc})."
        ) from None
    if len(shape) == 2:
        return int(shape[-1])
    return int(shape[channel_axis(layer)])


def normalize(array, min_value: float = 0.0, max_value: float = 1.0) -> np.ndarray:
    """Scales `array` to `[min_value, max_value]`, keras-vis' formula.

    `(array - min) / (max - min + 1e-7) * (max_value - min_value) + min_value`, over the whole
    array (the epsilon keeps a constant array finite: it maps to `min_value`).

    Args:
        array: A numeric array.
        min_value: The smallest value of the result. Defaults to `0.0`.
        max_value: The largest value of the result. Defaults to `1.0`.

    Returns:
        A float array of the same shape.

    Example:
        >>> normalize(np.array([0.0, 5.0, 10.0]), 0, 255).round(3)
        array([  0. , 127.5, 255. ])
    """
    a = np.asarray(array)
    lo, hi = np.min(a), np.max(a)
    scaled = (a - lo) / (hi - lo + _EPS)
    return (max_value - min_value) * scaled + min_value


def deprocess_input(input_array, input_range=(0, 255)) -> np.ndarray:
    """Turns an optimized input into a displayable one, keras-vis' `deprocess_input`.

    Centers the array on 0, scales its standard deviation to 0.1 (`std + 1e-7`), shifts it to
    0.5, clips to [0, 1] and maps [0, 1] onto `input_range`. The input is not modified.

    Args:
        input_array: A numeric array.
        input_range: `(low, high)` of the result. Defaults to `(0, 255)`.

    Returns:
        A float array of the same shape with values in `input_range`.

    Example:
        >>> deprocess_input(np.array([0.0, 1.0]), (0, 1)).round(3)
        array([0.4, 0.6])
    """
    a = np.array(input_array, dtype="float64" if np.asarray(input_array).dtype == np.float64
                 else "float32")
    a = a - a.mean()
    a = a / (a.std() + _EPS)
    a = np.clip(a * 0.1 + 0.5, 0, 1)
    return (input_range[1] - input_range[0]) * a + input_range[0]
