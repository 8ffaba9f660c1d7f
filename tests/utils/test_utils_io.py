"""vis.utils.io: image decoding, resizing, scaling, bombs refused; safe model loading."""

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from vis.utils import io


def write_fake_png(path, width, height):
    """A tiny PNG whose header claims `width x height` pixels (never decodable as such)."""

    def chunk(kind, data):
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )
    return path


@pytest.fixture
def rgb_png(tmp_path):
    a = np.random.default_rng(0).integers(0, 256, size=(6, 10, 3), dtype=np.uint8)
    path = tmp_path / "rgb.png"
    Image.fromarray(a).save(path)
    return path, a


def test_load_rgb_scale_01_and_255(rgb_png):
    path, a = rgb_png
    x01 = io.load_image(path)
    x255 = io.load_image(path, scale="255")
    assert x01.dtype == np.float32 and x01.shape == (6, 10, 3)
    np.testing.assert_allclose(x255, a.astype("float32"))
    np.testing.assert_allclose(x01, a / 255.0, rtol=1e-6)


def test_grayscale_conversion_matches_pil_luma(rgb_png):
    path, a = rgb_png
    x = io.load_image(path, channels=1, scale="255")
    # ITU-R 601-2 luma, as PIL's convert("L") documents (integer rounding).
    a = a.astype("float64")
    luma = a[..., 0] * 299 / 1000 + a[..., 1] * 587 / 1000 + a[..., 2] * 114 / 1000
    assert x.shape == (6, 10, 1)
    np.testing.assert_allclose(x[..., 0], luma, atol=1.0)


def test_gray_to_rgb_repeats_channel(tmp_path):
    g = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    path = tmp_path / "g.png"
    Image.fromarray(g, mode="L").save(path)
    assert io.load_image(path).shape == (3, 4, 1)
    x = io.load_image(path, channels=3, scale="255")
    for c in range(3):
        np.testing.assert_array_equal(x[..., c], g)


def test_resize_constant_image_stays_constant_and_partial_size(tmp_path):
    path = tmp_path / "c.png"
    Image.fromarray(np.full((30, 20), 200, np.uint8), mode="L").save(path)
    x = io.load_image(path, target_size=(8, 8), scale="255")
    assert x.shape == (8, 8, 1)
    np.testing.assert_allclose(x, 200.0)
    assert io.load_image(path, target_size=(None, 5)).shape == (30, 5, 1)


def test_resize_matches_pil_bilinear(rgb_png):
    path, a = rgb_png
    expected = np.asarray(Image.fromarray(a).resize((4, 3), Image.Resampling.BILINEAR), "float32")
    np.testing.assert_array_equal(io.load_image(path, (3, 4), scale="255"), expected)


def test_sixteen_bit_image_is_stretched_to_8bit(tmp_path):
    a = np.array([[0, 1000], [2000, 4000]], dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(a).save(path)
    x = io.load_image(path, scale="01")
    np.testing.assert_allclose(x[..., 0], np.round(a / 4000 * 255) / 255, atol=1e-6)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="image file not found"):
        io.load_image(tmp_path / "nope.png")


def test_directory_is_not_an_image(tmp_path):
    with pytest.raises(ValueError, match="Expected an image file, got the directory"):
        io.load_image(tmp_path)


def test_undecodable_and_truncated(tmp_path, rgb_png):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"this is not an image")
    with pytest.raises(ValueError, match="Cannot decode .* as an image"):
        io.load_image(bad)
    raw = rgb_png[0].read_bytes()
    trunc = tmp_path / "trunc.png"
    trunc.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="Cannot decode"):
        io.load_image(trunc)


def test_bomb_refused_by_our_cap_before_decoding(tmp_path):
    path = write_fake_png(tmp_path / "bomb.png", 8000, 8000)  # 64e6 > 40e6, header only
    with pytest.raises(ValueError, match="decompression bomb"):
        io.load_image(path)
    small = write_fake_png(tmp_path / "small.png", 20, 20)
    with pytest.raises(ValueError, match="400 pixels exceeds the limit of 100"):
        io.load_image(small, max_pixels=100)


def test_bomb_refused_by_pil_limit(tmp_path):
    path = write_fake_png(tmp_path / "huge.png", 100_000, 100_000)
    with pytest.raises(ValueError, match="decompression bomb"):
        io.load_image(path, max_pixels=10**12)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"scale": "1"}, "`scale`"), ({"channels": 2}, "`channels`"), ({"max_pixels": 0}, "`max_pixels`")],
)
def test_bad_arguments(rgb_png, kwargs, match):
    with pytest.raises(ValueError, match=match):
        io.load_image(rgb_png[0], **kwargs)


def test_save_image_roundtrip(tmp_path):
    a = np.linspace(0, 1, 12).reshape(3, 4)
    path = io.save_image(a, tmp_path / "sub" / "x.png")
    back = np.asarray(Image.open(path), "float64") / 255
    np.testing.assert_allclose(back, a, atol=0.5 / 255 + 1e-9)
    with pytest.raises(ValueError, match="must be an image"):
        io.save_image(np.zeros((2, 2, 2)), tmp_path / "y.png")


# --- models -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_model():
    import keras

    inputs = keras.Input((5, 4, 3))
    h = keras.layers.Conv2D(2, 3, activation="relu", name="conv")(inputs)
    h = keras.layers.GlobalAveragePooling2D()(h)
    return keras.Model(inputs, keras.layers.Dense(3, name="out")(h))


def test_load_model_roundtrip_and_layout(tmp_path, tiny_model):
    path = tmp_path / "m.keras"
    tiny_model.save(path)
    model = io.load_model(path)
    x = np.random.default_rng(0).random((2, 5, 4, 3)).astype("float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), tiny_model.predict(x, verbose=0),
                               rtol=1e-6)
    assert io.image_layout(model) == io.ImageLayout(5, 4, 3, False)


def test_load_images_batch_matches_layout(tmp_path, rgb_png):
    layout = io.ImageLayout(5, 4, 1, False)
    batch = io.load_images([rgb_png[0], rgb_png[0]], layout)
    assert batch.shape == (2, 5, 4, 1)
    np.testing.assert_array_equal(batch[0], io.load_image(rgb_png[0], (5, 4), 1))
    first = io.load_images([rgb_png[0]], io.ImageLayout(5, 4, 3, True))
    assert first.shape == (1, 3, 5, 4)
    with pytest.raises(ValueError, match="at least one"):
        io.load_images([], layout)
    pre_read = io.load_images([io.read_image(rgb_png[0])], layout)
    np.testing.assert_array_equal(pre_read[0], batch[0])


def test_images_of_different_sizes_for_any_size_model(tmp_path, rgb_png):
    other = tmp_path / "other.png"
    Image.fromarray(np.zeros((3, 3, 3), np.uint8)).save(other)
    with pytest.raises(ValueError, match="different sizes"):
        io.load_images([rgb_png[0], other], io.ImageLayout(None, None, 3, False))


def test_image_layout_channels_first_and_errors():
    import keras

    cf = keras.Model(*_io(keras, (3, 7, 9)))
    assert io.image_layout(cf) == io.ImageLayout(7, 9, 3, True)
    with pytest.raises(ValueError, match="one image input"):
        a, b = keras.Input((4,)), keras.Input((4,))
        io.image_layout(keras.Model([a, b], keras.layers.Add()([a, b])))
    with pytest.raises(ValueError, match="image input of shape"):
        io.image_layout(keras.Model(*_io(keras, (4,))))
    with pytest.raises(ValueError, match="1, 3 or 4 channels"):
        io.image_layout(keras.Model(*_io(keras, (5, 6, 7))))


def _io(keras, shape):
    inputs = keras.Input(shape)
    return inputs, keras.layers.Activation("linear")(inputs)


def test_load_model_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="model file not found"):
        io.load_model(tmp_path / "missing.keras")
    txt = tmp_path / "model.txt"
    txt.write_text("hello")
    with pytest.raises(ValueError, match="expected a '.keras' file"):
        io.load_model(txt)
    fake = tmp_path / "fake.keras"
    fake.write_text("not a zip")
    with pytest.raises(ValueError, match="not a Keras model"):
        io.load_model(fake)
    import zipfile

    other_zip = tmp_path / "other.keras"
    with zipfile.ZipFile(other_zip, "w") as z:
        z.writestr("readme.txt", "hi")
    with pytest.raises(ValueError, match="Cannot load the Keras model"):
        io.load_model(other_zip)


def test_load_model_safe_mode_refuses_lambda(tmp_path):
    import keras

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda t: t * 2.0)(inputs))
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(ValueError, match="Cannot load the Keras model .*safe_mode"):
        io.load_model(path)


# --- .npz data -----------------------------------------------------------------------------------


@pytest.fixture
def data_npz(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((10, 4, 4, 1)).astype("float32")
    y = rng.integers(0, 3, 10)
    path = tmp_path / "data.npz"
    np.savez_compressed(path, x=x, y=y, extra=np.arange(3))
    return path, x, y


def test_load_npz_whole_and_first_rows(data_npz):
    path, x, y = data_npz
    whole = io.load_npz(path)
    assert list(whole) == ["x", "y"]
    np.testing.assert_array_equal(whole["x"], x)
    np.testing.assert_array_equal(whole["y"], y)
    first = io.load_npz(path, max_rows=4)
    np.testing.assert_array_equal(first["x"], x[:4])
    np.testing.assert_array_equal(first["y"], y[:4])
    assert first["x"].flags.writeable and first["x"].dtype == np.float32
    assert io.load_npz(path, max_rows=50)["x"].shape == (10, 4, 4, 1)
    np.testing.assert_array_equal(io.load_npz(path, names=("extra",))["extra"], np.arange(3))


def test_load_npz_fortran_order_and_lengths(tmp_path):
    path = tmp_path / "f.npz"
    x = np.asfortranarray(np.arange(24.0).reshape(6, 4))
    np.savez(path, x=x, y=np.arange(6))
    np.testing.assert_array_equal(io.load_npz(path, max_rows=2)["x"], x[:2])
    np.savez(path, x=x, y=np.arange(5))
    with pytest.raises(ValueError, match=r"same length .*x \(6, 4\), y \(5,\)"):
        io.load_npz(path, max_rows=2)  # checked on the full lengths, not the first rows
    assert io.load_npz(path)["y"].shape == (5,)  # without max_rows: any lengths


def test_load_npz_errors(tmp_path, rgb_png, data_npz):
    png, _ = rgb_png
    with pytest.raises(FileNotFoundError, match="data file not found"):
        io.load_npz(tmp_path / "missing.npz")
    with pytest.raises(ValueError, match="not an .npz file .*arrays x and y") as info:
        io.load_npz(png)
    assert "allow_pickle" not in str(info.value)
    np.savez(tmp_path / "obj.npz", x=np.array([1, None], dtype=object), y=np.arange(2))
    with pytest.raises(ValueError, match="Python objects"):
        io.load_npz(tmp_path / "obj.npz")
    path, *_ = data_npz
    with pytest.raises(ValueError, match=r"lacks array\(s\) \['z'\] \(it has \['extra', 'x', "):
        io.load_npz(path, names=("x", "z"))
    raw = path.read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) - 40])
    with pytest.raises(ValueError, match="cut.npz"):
        io.load_npz(tmp_path / "cut.npz")
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ValueError, match="max_rows"):
            io.load_npz(path, max_rows=bad)
        with pytest.raises(ValueError, match="max_bytes"):
            io.load_npz(path, max_bytes=bad)


def test_load_npz_refuses_declared_bombs_before_decompressing(tmp_path):
    """Two members whose zip directory claims 3 GB each (the data itself is tiny)."""
    import zipfile

    path = tmp_path / "bomb.npz"
    np.savez(path, x=np.zeros((2, 2)), y=np.zeros(2, int))
    raw = bytearray(path.read_bytes())
    start = 0
    while (start := raw.find(b"PK\x01\x02", start)) != -1:  # central directory entries
        raw[start + 24 : start + 28] = struct.pack("<I", 3_000_000_000)  # uncompressed size
        start += 4
    path.write_bytes(bytes(raw))
    with zipfile.ZipFile(path) as z:
        assert sum(i.file_size for i in z.infolist()) == 6_000_000_000
    with pytest.raises(ValueError, match=r"claim 6,000,000,000 bytes .*possible zip bomb"):
        io.load_npz(path)
    with pytest.raises(ValueError, match="possible zip bomb"):
        io.load_npz(tmp_path / "bomb.npz", max_rows=1)
    np.savez(path, x=np.zeros((2, 2)), y=np.zeros(2, int))
    with pytest.raises(ValueError, match="limit of 10 "):
        io.load_npz(path, max_bytes=10)


def test_check_model_file_without_keras(tmp_path):
    (tmp_path / "m.h5").write_text("x")
    (tmp_path / "m.keras").write_text("not a zip")
    with pytest.raises(ValueError, match="expected a '.keras' file"):
        io.check_model_file(tmp_path / "m.h5")
    with pytest.raises(ValueError, match="not a Keras model: a '.keras' file is a zip"):
        io.check_model_file(tmp_path / "m.keras")
    with pytest.raises(ValueError, match="Expected a model file, got the directory"):
        io.check_model_file(tmp_path)


def test_light_modules_do_not_import_tensorflow():
    """`vis.utils.io` (and `vis.cli`) import without Keras/TensorFlow; `vis.utils` names are
    imported lazily on first access."""
    import subprocess
    import sys
    from pathlib import Path

    script = ("import sys, vis.utils.io, vis.cli, vis.utils as u; "
              "a = sorted(m for m in ('tensorflow', 'keras') if m in sys.modules); "
              "f = u.normalize; b = 'tensorflow' in sys.modules; "
              "from vis.utils import iter_layers, plot_maps, show_grid, overlay; "
              "print(a, b, callable(f) and callable(iter_layers))")
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", script], cwd=repo, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[:3] == ["[]", "False", "True"], proc.stdout
    import vis.utils

    assert set(vis.utils.__all__) <= set(dir(vis.utils))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        vis.utils.nope  # noqa: B018
