"""Every documented `vis` error: exit status, a one-line `vis: error:` message, no traceback.

Most cases call `vis.cli.main()` in this process (the same code path as the `vis` command,
without an interpreter start-up per case). Two subprocess tests check what only a fresh
interpreter shows: file errors are reported before TensorFlow is imported, and TensorFlow's
start-up banner does not reach the user.
"""

import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from cli_testing import (
    REPO,
    assert_user_error,
    build_dense_model,
    build_tiny_model,
    build_two_output_model,
    run_vis,
    vis_main,
    write_fake_png,
    write_images,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    import keras

    folder = tmp_path_factory.mktemp("cli_errors")
    build_tiny_model(folder / "tiny.keras")
    build_dense_model(folder / "dense.keras")
    build_two_output_model(folder / "twoout.keras")
    inputs = keras.Input((8, 8, 1))
    outputs = keras.layers.Lambda(lambda t: t * 2.0)(inputs)
    keras.Model(inputs, keras.layers.Flatten()(outputs)).save(folder / "lambda.keras")
    write_images(folder)
    (folder / "notes.txt").write_text("not a model")
    (folder / "fake.keras").write_text("not a zip archive")
    with zipfile.ZipFile(folder / "other.keras", "w") as z:
        z.writestr("readme.txt", "a zip, but not a Keras model")
    (folder / "bad.png").write_bytes(b"\x89PNG but not really")
    raw = (folder / "blob.png").read_bytes()
    (folder / "truncated.png").write_bytes(raw[: len(raw) // 2])
    write_fake_png(folder / "bomb.png", 9000, 9000)
    os.symlink(folder / "blob.png", folder / "alias.png")
    rng = np.random.default_rng(0)
    x = rng.random((4, 8, 8, 1)).astype("float32")
    np.savez(folder / "data.npz", x=x, y=np.array([0, 1, 2, 0]))
    np.savez(folder / "nolabels.npz", x=x)
    np.savez(folder / "badshape.npz", x=rng.random((4, 5, 5, 1)), y=np.zeros(4, int))
    np.savez(folder / "badlabels.npz", x=x, y=np.array([0, 1, 7, 2]))
    np.savez(folder / "objects.npz", x=np.array([x, None], dtype=object), y=np.zeros(2, int))
    np.savez(folder / "mismatch.npz", x=x, y=np.zeros(3, int))
    (folder / "notnpz.npz").write_text("hello")
    return folder


@pytest.fixture
def run(work, capsys, monkeypatch):
    monkeypatch.chdir(work)
    return lambda *args: vis_main(capsys, *args)


# --- files and output paths: checked before TensorFlow is imported ---------------------------

FILE_ERRORS = [
    (["saliency", "missing.keras", "blob.png"], ["model file not found", "missing.keras"]),
    (["saliency", "tiny.keras", "nothere.png"], ["image file not found", "nothere.png"]),
    (["saliency", "tiny.keras", "."], ["Expected an image file", "directory"]),
    (["saliency", "notes.txt", "blob.png"], ["not a Keras model file", ".keras"]),
    (["cam", "fake.keras", "blob.png"], ["not a Keras model", "zip archive"]),
    (["saliency", "tiny.keras", "bad.png"], ["Cannot decode", "bad.png"]),
    (["saliency", "tiny.keras", "truncated.png"], ["Cannot decode", "truncated"]),
    (["cam", "tiny.keras", "bomb.png"], ["decompression bomb", "81,000,000"]),
    # an output path that is an input file (same name, or a link to it)
    (["saliency", "tiny.keras", "blob.png", "--out", "blob.png"],
     ["would overwrite the input file 'blob.png'", "choose another --out"]),
    (["saliency", "tiny.keras", "blob.png", "--out", "alias.png"],
     ["would overwrite the input file 'blob.png'"]),
    (["cam", "tiny.keras", "gray.jpg", "--out", "./gray.jpg"], ["would overwrite the input file"]),
    # output paths that cannot be written
    (["saliency", "tiny.keras", "blob.png", "--out", "blob.png/x"],
     ["--out 'blob.png/x' cannot be written", "is a file, not a folder"]),
    (["saliency", "tiny.keras", "blob.png", "--out", "gray.jpg/maps/x.png"],
     ["cannot be written", "gray.jpg' is a file, not a folder"]),
    (["demo", "--out", "blob.png"], ["--out 'blob.png' is an existing file, not a folder"]),
    (["sanity", "tiny.keras", "data.npz", "--out", "notes.txt"],
     ["--out 'notes.txt' is an existing file, not a folder"]),
    (["saliency", "tiny.keras", "blob.png", "gray.jpg", "--out", "x.png"],
     ["single .png file", "2 images"]),
    (["saliency", "tiny.keras", "blob.png", "gray.jpg", "--out", "maps.JPG"],
     ["single .jpg file", "2 images", "folder"]),
    (["cam", "tiny.keras", "blob.png", "--out", "map.gif"],
     ["cannot write .gif files", ".png, .jpg, .jpeg, .pdf, .svg"]),
    # sanity data
    (["sanity", "missing.keras", "nolabels.npz"], ["model file not found"]),
    (["sanity", "tiny.keras", "missing.npz"], ["data file not found", "missing.npz"]),
    (["sanity", "tiny.keras", "nolabels.npz"], ["lacks array(s) ['y']", "arrays x and y"]),
    (["sanity", "tiny.keras", "notnpz.npz"],
     ["DATA must be a .npz file with arrays x and y", "notnpz.npz"]),
    (["sanity", "tiny.keras", "blob.png"],
     ["DATA must be a .npz file with arrays x and y", "not a zip archive"]),
    (["sanity", "tiny.keras", "objects.npz"], ["DATA must be", "Python objects"]),
    (["sanity", "tiny.keras", "mismatch.npz"], ["same length", "(4, 8, 8, 1)", "(3,)"]),
]


@pytest.mark.parametrize("args, fragments", FILE_ERRORS)
def test_file_errors(run, work, args, fragments):
    before = sorted(p.name for p in work.iterdir())
    message = assert_user_error(run(*args), *fragments)
    assert "allow_pickle" not in message and "Traceback" not in message
    assert sorted(p.name for p in work.iterdir()) == before  # nothing written or created


@pytest.mark.skipif(not os.path.isdir("/dev"), reason="POSIX only")
def test_output_under_dev_null(run):
    assert_user_error(run("saliency", "tiny.keras", "blob.png", "--out", "/dev/null/x.png"),
                      "'/dev/null' is a file, not a folder")


def test_npz_bomb_is_refused_before_decompressing(run, work, monkeypatch):
    from vis.utils import io

    monkeypatch.setattr(io, "DEFAULT_MAX_NPZ_BYTES", 1000)  # data.npz declares ~1.3 kB
    message = assert_user_error(run("sanity", "tiny.keras", "data.npz"), "possible zip bomb",
                                "limit of 1,000")
    assert "DATA must be a .npz file" in message


def test_npz_reads_only_the_first_n_rows(work):
    from vis.cli._data import load_data

    arrays = load_data(str(work / "data.npz"), 3)
    x, y = arrays["x"], arrays["y"]
    with np.load(work / "data.npz") as data:
        np.testing.assert_array_equal(x, data["x"][:3])
        np.testing.assert_array_equal(y, data["y"][:3])


# --- argument syntax (argparse) ---------------------------------------------------------------


@pytest.mark.parametrize(
    "args, fragments",
    [
        # --method: the registry's message, which lists every name and alias
        (["saliency", "tiny.keras", "blob.png", "--method", "magic"],
         ["--method: ", "method 'magic'", "deconvnet, feature_ablation, gradcam, gradcam_plus_plus",
          "guided -> guided_backprop"]),
        (["cam", "tiny.keras", "blob.png", "--method", "gradcam+++"],
         ["--method: ", "method 'gradcam+++'", "gradcam++ -> gradcam_plus_plus"]),
        (["sanity", "tiny.keras", "data.npz", "--method", "magic"],
         ["--method: ", "method 'magic'", "guided_backprop"]),
        (["sanity", "--method", "gradient,magic", "tiny.keras", "data.npz"],
         ["--method: ", "method 'magic'"]),
        (["sanity", "tiny.keras", "data.npz", "--method", ","], ["separated by commas"]),
        (["saliency", "tiny.keras", "blob.png", "--class", "-1"], ["class index must be >= 0"]),
        (["saliency", "tiny.keras", "blob.png", "--class", "cat"], ["'top'", "'cat'"]),
        (["saliency", "tiny.keras", "blob.png", "--scale", "100"], ["--scale", "invalid choice"]),
        (["sanity", "tiny.keras", "data.npz", "--n", "0"], ["positive integer"]),
        (["explain"], ["invalid choice: 'explain'"]),
        ([], ["required: COMMAND"]),
        (["saliency", "tiny.keras"], ["required: IMAGE"]),
    ],
)
def test_usage_errors(run, args, fragments):
    result = run(*args)
    assert_user_error(result, *fragments)
    assert result.stderr.startswith("usage: vis")


def test_help_on_every_command(run):
    for command in ([], ["demo"], ["saliency"], ["cam"], ["sanity"], ["evaluate"], ["methods"]):
        result = run(*command, "--help")
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("usage: vis")
        assert "--out" in result.stdout or command in ([], ["methods"])
        assert "vis methods" in result.stdout or command in ([], ["demo"], ["methods"])


# --- after the model is loaded ------------------------------------------------------------------


def test_class_out_of_range(run):
    assert_user_error(run("saliency", "tiny.keras", "blob.png", "--class", "3"),
                      "--class 3 is out of range", "3 units", "0..2")


def test_unknown_layer_lists_valid_names_without_the_input(run):
    message = assert_user_error(
        run("cam", "tiny.keras", "blob.png", "--layer", "conv9", "--penultimate-layer", "conv1"),
        "--layer 'conv9'", "valid names: conv1, conv2, pool, flatten, predictions")
    assert "image" not in message


@pytest.mark.parametrize("layer", ["0", "image", "-6"])
def test_input_layer_is_refused_in_cli_terms(run, layer):
    message = assert_user_error(run("saliency", "tiny.keras", "blob.png", "--layer", layer),
                                f"--layer {layer if layer[-1].isdigit() else repr(layer)} is the "
                                "model's input layer 'image'", "valid names: conv1,")
    assert "wrt_tensor" not in message and "`" not in message


def test_unknown_penultimate_layer_and_index_out_of_range(run):
    assert_user_error(run("cam", "tiny.keras", "blob.png", "--penultimate-layer", "12"),
                      "--penultimate-layer 12", "valid names")


def test_zip_that_is_not_a_model(run):
    assert_user_error(run("saliency", "other.keras", "blob.png"),
                      "Cannot load the Keras model", "other.keras")


def test_safe_mode_refuses_lambda_model(run):
    assert_user_error(run("saliency", "lambda.keras", "blob.png"),
                      "Cannot load the Keras model", "safe_mode")


@pytest.mark.parametrize(
    "data, fragments",
    [("badshape.npz", ["has shape (4, 5, 5, 1)", "expects (n, 8, 8, 1)"]),
     ("badlabels.npz", ["must be in 0..2", "0..7"])],
)
def test_sanity_data_errors(run, data, fragments):
    assert_user_error(run("sanity", "tiny.keras", data), *fragments)


def test_cam_on_a_model_without_convolutions(run):
    message = assert_user_error(run("cam", "dense.keras", "blob.png"), "--penultimate-layer",
                                "convolution")
    assert "penultimate_layer_idx" not in message


def test_sanity_gradcam_on_a_model_without_convolutions(run, work):
    message = assert_user_error(
        run("sanity", "dense.keras", "data.npz", "--method", "gradcam", "--out", "dense_out"),
        "--method gradcam: ", "convolution")
    assert "penultimate_layer_idx" not in message and "unexpected" not in message
    assert not (work / "dense_out").exists()


def test_library_messages_are_prefixed_never_reworded(run, work):
    """The library's own message, after the method and the option its parameter came from."""
    import keras

    import vis

    model = keras.models.load_model(work / "tiny.keras")
    with pytest.raises(ValueError) as library:
        vis.explain(model, np.zeros((1, 8, 8, 1), "float32"), "gradcam", 0, layer="flatten")
    message = assert_user_error(
        run("cam", "tiny.keras", "blob.png", "--penultimate-layer", "flatten"))
    assert message == f"vis: error: --method gradcam, --penultimate-layer: {library.value}"


@pytest.mark.parametrize("args, fragments", [
    (["cam", "tiny.keras", "blob.png", "--method", "gradient", "--penultimate-layer", "conv1"],
     ["--penultimate-layer: --method gradient does not work at a layer", "'output'"]),
])
def test_options_a_method_does_not_take(run, args, fragments):
    assert_user_error(run(*args), *fragments)


@pytest.mark.parametrize("command", ["saliency", "cam"])
def test_two_output_model_needs_layer(run, command):
    assert_user_error(run(command, "twoout.keras", "blob.png"),
                      "the model has 2 outputs (a, b)", "--layer")


def test_sanity_on_two_output_model(run):
    assert_user_error(run("sanity", "twoout.keras", "data.npz"), "2 outputs", "single-output")


# --- messages -----------------------------------------------------------------------------------

TF_WRAPPED = '''in user code:

    File "/site-packages/vis/visualization/engine.py", line 186, in fn  *
        value = loss(_single(recorder[key], key), t, caxis)
    File "/site-packages/vis/visualization/engine.py", line 216, in _single  *
        raise ValueError(

    ValueError: Layer 'a' has 2 outputs;
    vis explains single-output layers.
'''


def test_clean_message_keeps_only_the_last_error_sentence():
    from vis.cli import clean_message

    assert clean_message(TF_WRAPPED) == "Layer 'a' has 2 outputs; vis explains single-output layers."
    keras_wrapped = ("Exception encountered when calling Dense.call().\n\n\x1b[1mInput 0 of layer "
                     "'dense' is incompatible\x1b[0m\n\nArguments received by Dense.call():\n"
                     "  • inputs=tf.Tensor(shape=(1, 10))")
    assert clean_message(keras_wrapped) == "Input 0 of layer 'dense' is incompatible"
    assert clean_message("two\n  lines") == "two lines"


@pytest.mark.parametrize("error, status", [(ValueError, 2), (RuntimeError, 1)])
def test_method_errors_are_one_clean_line(run, monkeypatch, error, status):
    import vis

    def broken(*args, **kwargs):
        raise error(TF_WRAPPED)

    monkeypatch.setattr(vis, "explain", broken)
    message = assert_user_error(run("saliency", "tiny.keras", "blob.png", "--out", "b.png"),
                                "Layer 'a' has 2 outputs; vis explains single-output layers.",
                                status=status)
    if status == 2:  # the library's message, prefixed with the option it concerns
        assert message.startswith("vis: error: --method gradient: Layer 'a'"), message
    assert "in user code" not in message and "File " not in message


# --- a fresh interpreter ------------------------------------------------------------------------

_SCRIPT = """
import sys
from vis.cli import main
cases = [["saliency", "tiny.keras", "bad.png"], ["cam", "tiny.keras", "bomb.png"],
         ["saliency", "tiny.keras", "blob.png", "--out", "blob.png"],
         ["sanity", "tiny.keras", "blob.png"], ["demo", "--out", "notes.txt"]]
print([main(args) for args in cases], "tensorflow" in sys.modules, "keras" in sys.modules)
"""


def test_file_errors_come_before_tensorflow_is_imported(work):
    env = dict(os.environ, PYTHONPATH=str(REPO), MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=work, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[2, 2, 2, 2, 2] False False"
    lines = proc.stderr.splitlines()
    assert len(lines) == 5 and all(line.startswith("vis: error: ") for line in lines), lines


def test_tensorflow_banner_is_hidden(work):
    """An error after TensorFlow is imported: stderr holds the error line and nothing else."""
    proc = run_vis("saliency", "tiny.keras", "blob.png", "--class", "3", cwd=work)
    assert_user_error(proc, "--class 3 is out of range")
    assert proc.stderr.splitlines() == [
        "vis: error: --class 3 is out of range: layer 'predictions' has 3 units "
        "(valid: 0..2 or 'top')"
    ], proc.stderr


def test_missing_tensorflow_is_reported_in_one_line(work):
    """Simulated with an import hook that hides TensorFlow from a fresh interpreter."""
    script = ("import sys; sys.modules['tensorflow'] = None; from vis.cli import main; "
              "sys.exit(main(['saliency', 'tiny.keras', 'blob.png', '--out', 'x.png']))")
    env = dict(os.environ, PYTHONPATH=str(REPO), MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, "-c", script], cwd=work, env=env,
                          capture_output=True, text=True, timeout=120)
    assert_user_error(proc, "TensorFlow / Keras cannot be imported", "pip install")


def test_an_error_vis_translated_is_printed_as_it_is(run, monkeypatch):
    """vis's own translation names the model's layer; the CLI must not translate it again from
    the backend error it keeps (which would name a graph operation instead)."""
    import vis

    def broken(*args, **kwargs):
        err = RuntimeError("The model failed inside its compiled computation in layer 'my_reshape'")
        err.backend_exception = RuntimeError("Graph execution error: at node 'my_reshape_1/Reshape'")
        raise err

    monkeypatch.setattr(vis, "explain", broken)
    message = assert_user_error(run("saliency", "tiny.keras", "blob.png", "--out", "b.png"),
                                "in layer 'my_reshape'", status=1)
    assert "my_reshape_1/Reshape" not in message
