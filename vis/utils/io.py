"""Safe loading of user files: images (PIL) and saved Keras models (`safe_mode=True`).

Everything here turns the ways a user's file can be wrong into one clear exception
(`FileNotFoundError` or `ValueError`) whose message names the file and says what to do, so that
the command line can print it as one line instead of a traceback.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "ImageLayout",
    "image_layout",
    "image_to_array",
    "load_image",
    "load_images",
    "read_image",
    "check_model_file",
    "load_model",
    "load_npz",
    "save_image",
    "DEFAULT_MAX_NPZ_BYTES",
]

DEFAULT_MAX_PIXELS = 40_000_000
"""Largest image (width x height) `load_image` decodes by default: bigger files are refused as
possible decompression bombs before their pixels are decoded (PIL's own limit is ~89 million)."""

DEFAULT_MAX_NPZ_BYTES = 4 * 1024**3
"""Largest total uncompressed size (4 GiB) of the arrays in an `.npz` file that `load_npz` accepts:
the sizes declared in the zip directory are checked before anything is decompressed."""

_SCALES = ("01", "255")
_MODES = {1: "L", 3: "RGB", 4: "RGBA"}


class ImageLayout(NamedTuple):
    """The image input a model expects.

    A named tuple, usually returned by `image_layout(model)`; each argument is kept as the
    field of the same name.

    Args:
        height: Input height, or `None` when the model accepts any height.
        width: Input width, or `None` when the model accepts any width.
        channels: Number of channels (1, 3 or 4).
        channels_first: Whether the channel axis comes first (`(C, H, W)` inputs). Defaults to
            `False`.

    Example:
        >>> layout = ImageLayout(8, 8, 1)
        >>> layout.channels, layout.channels_first
        (1, False)
    """

    height: int | None
    width: int | None
    channels: int
    channels_first: bool = False


def _check_file(path: str | os.PathLike, what: str) -> str:
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what} file not found: {path!r}.")
    if os.path.isdir(path):
        article = "an" if what[:1] in "aeiou" else "a"
        raise ValueError(f"Expected {article} {what} file, got the directory {path!r}.")
    return path


def read_image(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS):
    """Opens and decodes an image file safely, refusing decompression bombs before decoding.

    The header is read first and images larger than `max_pixels` are refused before any pixel is
    decoded (a few kilobytes of PNG can claim billions of pixels). The EXIF orientation is applied.

    Args:
        path: Image file (PNG, JPEG, BMP, GIF, TIFF, ... anything PIL decodes).
        max_pixels: Largest accepted width x height. Defaults to `DEFAULT_MAX_PIXELS` (40 million).

    Returns:
        The decoded `PIL.Image.Image` (its file closed).

    Raises:
        FileNotFoundError: If `path` does not exist.
        ValueError: If the file cannot be decoded as an image or is larger than `max_pixels`.

    Example:
        >>> im = read_image("digit.png")  # doctest: +SKIP
        >>> im.size
        (8, 8)
    """
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int | np.integer) \
            or max_pixels < 1:
        raise ValueError(f"`max_pixels` must be a positive integer, got {max_pixels!r}.")
    path = _check_file(path, "image")

    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # PIL warns (then raises) on huge images; make both paths an error we can word.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                width, height = im.size
                if width * height > max_pixels:
                    raise _Bomb(width, height)
                im.load()
                return ImageOps.exif_transpose(im)
    except _Bomb as err:
        raise ValueError(
            f"Refusing to decode {path!r}: {err.width}x{err.height} = {err.width * err.height:,} "
            f"pixels exceeds the limit of {max_pixels:,} (possible decompression bomb); "
            "resize the image first."
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ValueError(
            f"Refusing to decode {path!r}: it claims more pixels than PIL's safety limit "
            f"(possible decompression bomb; {str(err).rstrip('.')}); resize the image first."
        ) from None
    except UnidentifiedImageError:
        raise ValueError(
            f"Cannot decode {path!r} as an image (not a PNG/JPEG/... file, or corrupted)."
        ) from None
    except (OSError, SyntaxError, ValueError) as err:
        raise ValueError(
            f"Cannot decode {path!r} as an image ({str(err).rstrip('.')}): corrupted or truncated file?"
        ) from None


def image_to_array(
    image,
    target_size: tuple[int | None, int | None] | None = None,
    channels: int | None = None,
    scale: str = "01",
) -> np.ndarray:
    """Converts a PIL image to a float32 `(height, width, channels)` array for a model.

    The image is converted to grayscale (`channels=1`), RGB (`3`) or RGBA (`4`), resized
    bilinearly to `target_size` and scaled to [0, 1] (`scale="01"`) or left in [0, 255]
    (`scale="255"`). 16-bit and float images are stretched linearly to 8 bits first.

    Args:
        image: A `PIL.Image.Image`, e.g. from `read_image`.
        target_size: `(height, width)` to resize to; a `None` entry keeps that side. Defaults to
            `None` (keep the size).
        channels: 1, 3 or 4 to convert to; `None` keeps grayscale images grayscale and converts
            everything else to RGB. Defaults to `None`.
        scale: `"01"` for values in [0, 1] or `"255"` for values in [0, 255]. Defaults to `"01"`.

    Returns:
        A float32 array of shape `(height, width, channels)`.

    Raises:
        ValueError: If `scale` or `channels` is invalid.

    Example:
        >>> x = image_to_array(read_image("digit.png"), (8, 8), channels=1)  # doctest: +SKIP
        >>> x.shape
        (8, 8, 1)
    """
    if scale not in _SCALES:
        raise ValueError(f"`scale` must be one of {list(_SCALES)}, got {scale!r}.")
    if channels is not None and channels not in _MODES:
        raise ValueError(f"`channels` must be 1, 3 or 4 (or None), got {channels!r}.")
    from PIL import Image

    im = image
    if channels is None:
        channels = 1 if im.mode in ("1", "L", "I", "I;16", "I;16B", "I;16L", "F") else 3
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        im = _to_8bit(im)
    im = im.convert(_MODES[channels])
    if target_size is not None:
        th, tw = target_size
        size = (int(tw) if tw else im.width, int(th) if th else im.height)
        if size != im.size:
            im = im.resize(size, Image.Resampling.BILINEAR)
    x = np.asarray(im, dtype="float32")
    if x.ndim == 2:
        x = x[..., None]
    return x / 255.0 if scale == "01" else x


def load_image(
    path: str | os.PathLike,
    target_size: tuple[int | None, int | None] | None = None,
    channels: int | None = None,
    scale: str = "01",
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> np.ndarray:
    """Loads one image file as a float32 `(height, width, channels)` array.

    `read_image` (safe decoding, decompression bombs refused before decoding, EXIF orientation)
    followed by `image_to_array` (channels, bilinear resize, scaling).

    Args:
        path: Image file (PNG, JPEG, BMP, GIF, TIFF, ... anything PIL decodes).
        target_size: `(height, width)` to resize to; a `None` entry keeps that side. Defaults to
            `None` (keep the file's size).
        channels: 1, 3 or 4 to convert to; `None` keeps grayscale images grayscale and converts
            everything else to RGB. Defaults to `None`.
        scale: `"01"` for values in [0, 1] or `"255"` for values in [0, 255]. Defaults to `"01"`.
        max_pixels: Largest accepted width x height. Defaults to `DEFAULT_MAX_PIXELS` (40 million).

    Returns:
        A float32 array of shape `(height, width, channels)`.

    Raises:
        FileNotFoundError: If `path` does not exist.
        ValueError: If the file cannot be decoded as an image, is larger than `max_pixels`, or an
            argument is invalid.

    Example:
        >>> x = load_image("digit.png", target_size=(8, 8), channels=1)  # doctest: +SKIP
        >>> x.shape
        (8, 8, 1)
    """
    if scale not in _SCALES:
        raise ValueError(f"`scale` must be one of {list(_SCALES)}, got {scale!r}.")
    if channels is not None and channels not in _MODES:
        raise ValueError(f"`channels` must be 1, 3 or 4 (or None), got {channels!r}.")
    return image_to_array(read_image(path, max_pixels), target_size, channels, scale)


class _Bomb(Exception):
    def __init__(self, width: int, height: int):
        super().__init__(width, height)
        self.width, self.height = width, height


def _to_8bit(im):
    """Maps a 16-bit / 32-bit / float PIL image linearly to 8-bit grayscale."""
    from PIL import Image

    a = np.asarray(im, dtype="float64")
    lo, hi = float(a.min()), float(a.max())
    a = (a - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(a)
    return Image.fromarray(a.round().astype("uint8"), mode="L")


def load_images(
    paths: Sequence,
    layout: ImageLayout,
    scale: str = "01",
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> np.ndarray:
    """Loads image files as one batch matching a model's input layout.

    Every image is resized to the model's `(height, width)` and converted to its channel count
    (grayscale or RGB), then stacked (channels first when the model expects it).

    Args:
        paths: Image files, or images already opened with `read_image`.
        layout: The model's input layout, from `image_layout(model)`.
        scale: `"01"` or `"255"`, see `image_to_array`. Defaults to `"01"`.
        max_pixels: See `read_image`. Defaults to `DEFAULT_MAX_PIXELS`.

    Returns:
        A float32 array `(len(paths), height, width, channels)` (or `(n, channels, h, w)`).

    Raises:
        FileNotFoundError: If a file does not exist.
        ValueError: If `paths` is empty, a file cannot be decoded, or the images have different
            sizes while the model accepts any size.

    Example:
        >>> batch = load_images(["a.png", "b.png"], image_layout(model))  # doctest: +SKIP
    """
    if len(paths) == 0:
        raise ValueError("`paths` must name at least one image file, got an empty list.")
    images = [
        image_to_array(
            p if hasattr(p, "convert") else read_image(p, max_pixels),
            (layout.height, layout.width), layout.channels, scale,
        )
        for p in paths
    ]
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise ValueError(
            f"The images have different sizes {sorted(shapes)} and the model accepts any size; "
            "resize them to one size first or explain them one at a time."
        )
    batch = np.stack(images)
    return np.moveaxis(batch, -1, 1) if layout.channels_first else batch


def image_layout(model) -> ImageLayout:
    """Reads the image input layout `(height, width, channels, channels_first)` of a model.

    Args:
        model: A Keras model with one image input of rank 3 (`(H, W, C)` or `(C, H, W)`), with 1, 3
            or 4 channels.

    Returns:
        An `ImageLayout`.

    Raises:
        ValueError: If the model has several inputs or its input is not an image.

    Example:
        >>> image_layout(model)  # doctest: +SKIP
        ImageLayout(height=8, width=8, channels=1, channels_first=False)
    """
    inputs = getattr(model, "inputs", None)
    if not inputs:
        raise ValueError(f"Expected a built Keras model with inputs, got {type(model).__name__}.")
    if len(inputs) != 1:
        raise ValueError(f"Expected a model with one image input, got {len(inputs)} inputs.")
    shape = tuple(inputs[0].shape[1:])
    if len(shape) != 3:
        raise ValueError(
            f"Expected an image input of shape (height, width, channels), got {shape}: "
            "this command explains image models only."
        )
    if shape[-1] in _MODES:
        return ImageLayout(shape[0], shape[1], int(shape[-1]), False)
    if shape[0] in _MODES:
        return ImageLayout(shape[1], shape[2], int(shape[0]), True)
    raise ValueError(f"Expected an image input with 1, 3 or 4 channels, got input shape {shape}.")


def check_model_file(path: str | os.PathLike) -> str:
    """Checks, without importing Keras, that `path` looks like a saved `.keras` model.

    The file must exist, end in `.keras` and be a zip archive (what `model.save` writes); its
    content is checked when `load_model` loads it.

    Args:
        path: The model file.

    Returns:
        `path` as a string.

    Raises:
        FileNotFoundError: If `path` does not exist.
        ValueError: If `path` is a folder, does not end in `.keras` or is not a zip archive.

    Example:
        >>> check_model_file("model.keras")  # doctest: +SKIP
        'model.keras'
    """
    path = _check_file(path, "model")
    if not path.endswith(".keras"):
        raise ValueError(
            f"{path!r} is not a Keras model file: expected a '.keras' file "
            "(save one with `model.save('model.keras')`; legacy .h5 files can be converted with "
            "`keras.saving.load_model('model.h5').save('model.keras')`)."
        )
    import zipfile

    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path!r} is not a Keras model: a '.keras' file is a zip archive written by "
            "`model.save('model.keras')`, and this file is not one."
        )
    return path


SAFE_KERAS = (3, 11)  # the first release without a published safe_mode bypass


def check_keras_version(version: str) -> None:
    """Refuses to load model files with a Keras whose `safe_mode` has published bypasses.

    Args:
        version: `keras.__version__`.

    Raises:
        ValueError: For a version older than `SAFE_KERAS` (3.11).

    Example:
        >>> check_keras_version("3.11.0")
    """
    parts = []
    for piece in str(version).split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    if tuple(parts) < SAFE_KERAS:
        raise ValueError(
            f"Keras {version} has published safe_mode bypasses (CVE-2025-1550, CVE-2025-9906): "
            "vis loads model files only with Keras >= 3.11 (pip install -U 'keras>=3.11')."
        )


def load_model(path: str | os.PathLike):
    """Loads a saved Keras model safely: `safe_mode=True`, `compile=False`.

    `safe_mode=True` refuses files that would run arbitrary code while loading (`Lambda` layers
    serialized as bytecode, functions of arbitrary modules); the model is not compiled
    (explaining needs no optimizer). Keras releases before 3.11 had published `safe_mode`
    bypasses (CVE-2025-1550, fixed in 3.9; CVE-2025-9906, fixed in 3.11): with them, files are
    refused.

    Args:
        path: A `.keras` file written by `model.save("model.keras")`.

    Returns:
        The `keras.Model`.

    Raises:
        FileNotFoundError: If `path` does not exist.
        ValueError: If the file is not a `.keras` model or cannot be loaded safely, or the
            installed Keras is older than 3.11.

    Example:
        >>> model = load_model("model.keras")  # doctest: +SKIP
    """
    path = check_model_file(path)
    import keras

    check_keras_version(keras.__version__)
    try:
        model = keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as err:  # Keras raises many types here; all mean "cannot load this file".
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"Cannot load the Keras model {path!r}: {detail}") from None
    if not isinstance(model, keras.Model):
        raise ValueError(f"{path!r} holds a {type(model).__name__}, not a Keras model.")
    return model


def load_npz(
    path: str | os.PathLike,
    names: Sequence[str] = ("x", "y"),
    max_rows: int | None = None,
    max_bytes: int | None = None,
) -> dict[str, np.ndarray]:
    """Loads named arrays from an `.npz` file safely: no pickles, no zip bombs, only what is needed.

    Nothing is decompressed before the checks: the file must be a zip archive holding
    `<name>.npy` members, and the uncompressed sizes that its directory declares must add up to
    at most `max_bytes` (reading never returns more than a member's declared size). Arrays of
    Python objects are refused (`allow_pickle=False`). With `max_rows`, only the first `max_rows`
    entries along the first axis are read from each array, which then must all have the same
    length.

    Args:
        path: An `.npz` file written by `numpy.savez` / `numpy.savez_compressed`.
        names: The arrays to load. Defaults to `("x", "y")`.
        max_rows: Read at most this many rows (first axis) of each array. Defaults to `None`
            (whole arrays).
        max_bytes: Largest accepted total uncompressed size of the file's members. Defaults to
            `None`: `DEFAULT_MAX_NPZ_BYTES` (4 GiB).

    Returns:
        A dict `name -> array`, in the order of `names`.

    Raises:
        FileNotFoundError: If `path` does not exist.
        ValueError: If the file is not an `.npz` archive, lacks an array, holds Python objects,
            declares more than `max_bytes`, is corrupted, or (with `max_rows`) its arrays have
            different lengths.

    Example:
        >>> np.savez("data.npz", x=np.zeros((100, 8, 8, 1)), y=np.zeros(100, int))
        >>> arrays = load_npz("data.npz", max_rows=16)  # doctest: +SKIP
        >>> arrays["x"].shape
        (16, 8, 8, 1)
    """
    if max_rows is not None and (isinstance(max_rows, bool) or not isinstance(
            max_rows, int | np.integer) or max_rows < 1):
        raise ValueError(f"`max_rows` must be a positive integer or None, got {max_rows!r}.")
    if max_bytes is None:
        max_bytes = DEFAULT_MAX_NPZ_BYTES
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int | np.integer) or max_bytes < 1:
        raise ValueError(f"`max_bytes` must be a positive integer, got {max_bytes!r}.")
    path = _check_file(path, "data")
    wanted = " and ".join(", ".join(names).rsplit(", ", 1))
    keywords = ", ".join(f"{n}=..." for n in names)
    expected = f"expected an .npz file with arrays {wanted} (`numpy.savez(path, {keywords})`)"
    import zipfile

    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path!r} is not an .npz file (not a zip archive): {expected}.")
    try:
        with zipfile.ZipFile(path) as archive:
            members = {info.filename: info for info in archive.infolist()}
            total = sum(info.file_size for info in members.values())
            if total > max_bytes:
                raise ValueError(
                    f"Refusing to load {path!r}: its arrays claim {total:,} bytes uncompressed, "
                    f"more than the limit of {max_bytes:,} (possible zip bomb)."
                )
            found = sorted(n[:-4] for n in members if n.endswith(".npy"))
            missing = [n for n in names if f"{n}.npy" not in members]
            if missing:
                raise ValueError(f"{path!r} lacks array(s) {missing} (it has {found}): {expected}.")
            loaded = {n: _read_npy(archive, members[f"{n}.npy"], max_rows, path) for n in names}
    except ValueError:
        raise
    except Exception as err:  # zipfile.BadZipFile, zlib.error, EOFError, OSError, ...
        raise ValueError(
            f"Cannot read {path!r} ({type(err).__name__}: {str(err).rstrip('.')}): corrupted or "
            f"truncated file? {expected[0].upper()}{expected[1:]}."
        ) from None
    if max_rows is not None and len({shape[:1] for _, shape in loaded.values()}) > 1:
        shapes = ", ".join(f"{n} {shape}" for n, (_, shape) in loaded.items())
        raise ValueError(
            f"The arrays of {path!r} must have the same length (first axis), got shapes {shapes}."
        )
    return {n: array for n, (array, _) in loaded.items()}


def _read_npy(archive, info, max_rows: int | None, path: str) -> tuple[np.ndarray, tuple]:
    """Reads one `.npy` member of an open zip archive: header first, then at most `max_rows`
    rows. Returns the array and the full shape declared in the header."""
    from numpy.lib import format as npy

    name = info.filename[:-4]
    with archive.open(info) as f:
        version = npy.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = npy.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = npy.read_array_header_2_0(f)
        else:
            shape, fortran, dtype = None, True, None
        if dtype is not None and dtype.hasobject:
            raise ValueError(
                f"Array {name!r} in {path!r} holds Python objects (pickled data), which are not "
                "loaded: save numeric arrays."
            )
        if shape is not None and not fortran and max_rows is not None and len(shape) >= 1:
            rows = min(int(max_rows), int(shape[0]))
            count = rows * int(np.prod(shape[1:], dtype="int64"))
            data = f.read(count * dtype.itemsize)
            if len(data) != count * dtype.itemsize:
                raise ValueError(f"Array {name!r} in {path!r} is truncated.")
            array = np.frombuffer(data, dtype=dtype).reshape((rows, *shape[1:])).copy()
            return array, tuple(shape)
    with archive.open(info) as f:
        array = npy.read_array(f, allow_pickle=False)
    shape = array.shape
    return (array[:max_rows] if max_rows is not None and array.ndim else array), shape


def save_image(array: np.ndarray, path: str | os.PathLike) -> str:
    """Writes an image array as a PNG file.

    Args:
        array: `(height, width)`, `(height, width, 1)` or `(height, width, 3|4)` array, either
            float in [0, 1] or uint8.
        path: Output file; parent folders are created.

    Returns:
        The path written.

    Raises:
        ValueError: If the array is not an image.

    Example:
        >>> save_image(np.zeros((8, 8)), "black.png")  # doctest: +SKIP
        'black.png'
    """
    from PIL import Image

    a = np.asarray(array)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (3, 4)):
        raise ValueError(f"`array` must be an image (H, W[, 1|3|4]), got shape {a.shape}.")
    if a.dtype != np.uint8:
        a = (np.clip(np.nan_to_num(a.astype("float64")), 0.0, 1.0) * 255.0).round().astype("uint8")
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    Image.fromarray(a).save(path)
    return path
