"""Helpers of the command-line tests: run `vis` as a subprocess, build a tiny saved model."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def run_vis(*args, cwd, timeout=180):
    """Runs `python -m vis.cli ARGS` in `cwd` (the package importable from the repository)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["MPLBACKEND"] = "Agg"
    return subprocess.run(
        [sys.executable, "-m", "vis.cli", *map(str, args)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
    )


class Result:
    """What `vis_main` returns: the exit status and the captured output, like a subprocess."""

    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def vis_main(capsys, *args):
    """Runs `vis.cli.main(ARGS)` in this process (argparse's SystemExit becomes the status)."""
    from vis.cli import main

    capsys.readouterr()  # drop earlier output
    try:
        status = main([str(a) for a in args])
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    return Result(status, out, err)


def assert_user_error(proc, *fragments, status=2):
    """Exit status, a one-line `vis: error:` message containing `fragments`, no traceback."""
    assert proc.returncode == status, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("vis: error:")]
    assert len(errors) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])
    return errors[0]


def assert_png(path, min_size=(50, 50)):
    """`path` is a PNG that decodes and is at least `min_size` pixels, not one flat colour."""
    from PIL import Image

    path = Path(path)
    assert path.is_file() and path.stat().st_size > 0, path
    with Image.open(path) as im:
        assert im.format == "PNG"
        assert im.size[0] >= min_size[0] and im.size[1] >= min_size[1], im.size
        a = np.asarray(im.convert("RGB"))
    assert a.std() > 1.0, f"{path} is a flat image"


def build_tiny_model(path, seed=0):
    """A small 8x8x1 CNN with 3 softmax classes, random weights, saved to `path`."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 1), name="image")
    h = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv1")(inputs)
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv2")(h)
    h = keras.layers.MaxPooling2D(2, name="pool")(h)
    h = keras.layers.Flatten(name="flatten")(h)
    outputs = keras.layers.Dense(3, activation="softmax", name="predictions")(h)
    model = keras.Model(inputs, outputs)
    model.save(path)
    return model


def build_two_output_model(path, seed=0):
    """8x8x1 -> conv -> flatten -> two Dense heads `a` (3 logits) and `b` (2 logits)."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 1), name="image")
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    h = keras.layers.Flatten(name="flatten")(h)
    model = keras.Model(inputs, [keras.layers.Dense(3, name="a")(h),
                                 keras.layers.Dense(2, name="b")(h)])
    model.save(path)
    return model


def build_nested_model(path, seed=0):
    """A conv sub-model `base` (layer `conv5`) inside a classifier: paths like `base/conv5`."""
    import keras

    keras.utils.set_random_seed(seed)
    inner_in = keras.Input((8, 8, 1))
    inner = keras.Model(inner_in, keras.layers.Conv2D(5, 3, activation="relu", name="conv5")(
        inner_in), name="base")
    inputs = keras.Input((8, 8, 1), name="image")
    h = keras.layers.Flatten(name="flatten")(inner(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="out")(h))
    model.save(path)
    return model


def build_dense_model(path, seed=0):
    """8x8x1 -> flatten -> Dense(3): no convolution (Grad-CAM cannot explain it)."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Flatten()(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3, name="out")(h))
    model.save(path)
    return model


def write_images(folder, seed=0):
    """A 20x16 RGB PNG and an 8x8 grayscale JPEG of smooth random blobs."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:20, 0:16]
    blob = np.exp(-((yy - 8) ** 2 + (xx - 9) ** 2) / 20.0)
    rgb = np.stack([blob, blob * 0.5, rng.random((20, 16)) * 0.2], -1)
    a = folder / "blob.png"
    Image.fromarray((rgb * 255).astype("uint8")).save(a)
    b = folder / "gray.jpg"
    Image.fromarray((rng.random((8, 8)) * 255).astype("uint8"), mode="L").save(b)
    return a, b


def write_fake_png(path, width, height):
    """A tiny PNG whose header claims `width x height` pixels (a decompression bomb's header)."""
    import struct
    import zlib

    def chunk(kind, data):
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )
    return path
