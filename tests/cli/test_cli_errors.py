"""Every documented `vis` error: exit status, a one-line `vis: error:` message, no traceback."""

import zipfile

import numpy as np
import pytest
from cli_testing import (
    assert_user_error,
    build_tiny_model,
    run_vis,
    write_fake_png,
    write_images,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_errors")
    build_tiny_model(folder / "tiny.keras")
    write_images(folder)
    (folder / "notes.txt").write_text("not a model")
    (folder / "fake.keras").write_text("not a zip archive")
    with zipfile.ZipFile(folder / "other.keras", "w") as z:
        z.writestr("readme.txt", "a zip, but not a Keras model")
    (folder / "bad.png").write_bytes(b"\x89PNG but not really")
    raw = (folder / "blob.png").read_bytes()
    (folder / "truncated.png").write_bytes(raw[: len(raw) // 2])
    write_fake_png(folder / "bomb.png", 9000, 9000)
    rng = np.random.default_rng(0)
    x = rng.random((4, 8, 8, 1)).astype("float32")
    np.savez(folder / "nolabels.npz", x=x)
    np.savez(folder / "badshape.npz", x=rng.random((4, 5, 5, 1)), y=np.zeros(4, int))
    np.savez(folder / "badlabels.npz", x=x, y=np.array([0, 1, 7, 2]))
    (folder / "notnpz.npz").write_text("hello")
    return folder


# --- before TensorFlow is imported (fast) ---------------------------------------------------


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["saliency", "missing.keras", "blob.png"], ["model file not found", "missing.keras"]),
        (["saliency", "tiny.keras", "nothere.png"], ["image file not found", "nothere.png"]),
        (["saliency", "notes.txt", "blob.png"], ["not a Keras model file", ".keras"]),
        (["cam", "fake.keras", "blob.png"], ["not a Keras model", "zip archive"]),
        (["saliency", "tiny.keras", "bad.png"], ["Cannot decode", "bad.png"]),
        (["saliency", "tiny.keras", "truncated.png"], ["Cannot decode", "truncated"]),
        (["cam", "tiny.keras", "bomb.png"], ["decompression bomb", "81,000,000"]),
        (["saliency", "tiny.keras", "blob.png", "gray.jpg", "--out", "x.png"],
         ["single .png file", "2 images"]),
        (["sanity", "missing.keras", "nolabels.npz"], ["model file not found"]),
        (["sanity", "tiny.keras", "missing.npz"], ["data file not found", "missing.npz"]),
        (["sanity", "tiny.keras", "nolabels.npz"], ["lacks array(s) ['y']", "integer labels"]),
        (["sanity", "tiny.keras", "notnpz.npz"], ["cannot read", "notnpz.npz"]),
    ],
)
def test_file_errors(work, args, fragments):
    assert_user_error(run_vis(*args, cwd=work), *fragments)


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["saliency", "tiny.keras", "blob.png", "--method", "magic"],
         ["--method", "unknown method 'magic'", "gradient, guided, deconvnet"]),
        (["cam", "tiny.keras", "blob.png", "--method", "gradient"],
         ["unknown method 'gradient'", "gradcam, gradcam++, guided_gradcam"]),
        (["sanity", "tiny.keras", "data.npz", "--method", "magic"],
         ["unknown method 'magic'", "guided_backprop"]),
        (["saliency", "tiny.keras", "blob.png", "--class", "-1"], ["class index must be >= 0"]),
        (["saliency", "tiny.keras", "blob.png", "--class", "cat"], ["'top'", "'cat'"]),
        (["saliency", "tiny.keras", "blob.png", "--scale", "100"], ["--scale", "invalid choice"]),
        (["sanity", "tiny.keras", "data.npz", "--n", "0"], ["positive integer"]),
        (["explain"], ["invalid choice: 'explain'"]),
        ([], ["required: COMMAND"]),
        (["saliency", "tiny.keras"], ["required: IMAGE"]),
    ],
)
def test_usage_errors(work, args, fragments):
    proc = run_vis(*args, cwd=work)
    assert_user_error(proc, *fragments)
    assert proc.stderr.startswith("usage: vis")


def test_help_on_every_command(work):
    for command in ([], ["demo"], ["saliency"], ["cam"], ["sanity"]):
        proc = run_vis(*command, "--help", cwd=work)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith("usage: vis")
        assert "--out" in proc.stdout or not command


# --- after the model is loaded (TensorFlow) -------------------------------------------------


def test_class_out_of_range(work):
    proc = run_vis("saliency", "tiny.keras", "blob.png", "--class", "3", cwd=work)
    assert_user_error(proc, "--class 3 is out of range", "3 units", "0..2")


def test_unknown_layer_lists_valid_names(work):
    proc = run_vis("cam", "tiny.keras", "blob.png", "--layer", "conv9",
                   "--penultimate-layer", "conv1", cwd=work)
    assert_user_error(proc, "--layer 'conv9'", "conv1, conv2, pool, flatten, predictions")


def test_unknown_penultimate_layer_and_index_out_of_range(work):
    proc = run_vis("cam", "tiny.keras", "blob.png", "--penultimate-layer", "12", cwd=work)
    assert_user_error(proc, "--penultimate-layer 12", "valid names")


def test_zip_that_is_not_a_model(work):
    proc = run_vis("saliency", "other.keras", "blob.png", cwd=work)
    assert_user_error(proc, "Cannot load the Keras model", "other.keras")


def test_safe_mode_refuses_lambda_model(work):
    import keras

    inputs = keras.Input((8, 8, 1))
    outputs = keras.layers.Lambda(lambda t: t * 2.0)(inputs)
    keras.Model(inputs, keras.layers.Flatten()(outputs)).save(work / "lambda.keras")
    proc = run_vis("saliency", "lambda.keras", "blob.png", cwd=work)
    assert_user_error(proc, "Cannot load the Keras model", "safe_mode")


@pytest.mark.parametrize(
    "data, fragments",
    [("badshape.npz", ["has shape (4, 5, 5, 1)", "expects (n, 8, 8, 1)"]),
     ("badlabels.npz", ["must be in 0..2", "0..7"])],
)
def test_sanity_data_errors(work, data, fragments):
    assert_user_error(run_vis("sanity", "tiny.keras", data, cwd=work), *fragments)


def test_cam_on_a_model_without_convolutions(work):
    import keras

    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Flatten()(inputs)
    keras.Model(inputs, keras.layers.Dense(3, name="out")(h)).save(work / "dense.keras")
    proc = run_vis("cam", "dense.keras", "blob.png", cwd=work)
    message = assert_user_error(proc, "--penultimate-layer")
    assert "penultimate_layer_idx" not in message
