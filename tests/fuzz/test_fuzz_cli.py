"""The `vis` command line: every error exits non-zero with one `error:` line and no traceback,
errors raised deep inside TensorFlow included. `vis.cli.main` runs in this process."""

import importlib.util
import sys
import textwrap

import numpy as np
import pytest

BOOM = textwrap.dedent('''
    """A layer that fails at run time inside TensorFlow (an assertion on its input)."""
    import keras
    import tensorflow as tf


    @keras.saving.register_keras_serializable(package="fuzz")
    class Boom(keras.layers.Layer):
        def call(self, t):
            tf.debugging.assert_less(t, -1.0, message="Boom refuses these inputs")
            return t

        def compute_output_shape(self, shape):
            return shape
''')


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    import keras
    from PIL import Image

    folder = tmp_path_factory.mktemp("fuzz_cli")
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1), name="image")
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    h = keras.layers.Flatten(name="flatten")(h)
    keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="out")(h)).save(
        folder / "tiny.keras")
    keras.Model(inputs, keras.layers.Dense(3, name="dense_out")(
        keras.layers.Flatten()(inputs))).save(folder / "dense.keras")
    (folder / "boom_layer.py").write_text(BOOM)
    spec = importlib.util.spec_from_file_location("fuzz_boom_layer", folder / "boom_layer.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_boom_layer"] = module
    spec.loader.exec_module(module)
    inner = keras.Input((8, 8, 1))
    out = keras.layers.Dense(3, name="out")(keras.layers.Flatten()(module.Boom(name="boom")(inner)))
    keras.Model(inner, out).save(folder / "boom.keras")
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((8, 8)) * 255).astype("uint8"), mode="L").save(folder / "img.png")
    x = rng.random((4, 8, 8, 1)).astype("float32")
    np.savez(folder / "data.npz", x=x, y=np.array([0, 1, 2, 0]))
    np.savez(folder / "nan.npz", x=np.full((4, 8, 8, 1), np.nan, "float32"), y=np.zeros(4, int))
    np.savez(folder / "boollabels.npz", x=x, y=np.array([True, False, True, True]))
    (folder / "notes.txt").write_text("not a model")
    return folder


@pytest.fixture
def run(work, capsys, monkeypatch):
    from vis.cli import main

    monkeypatch.chdir(work)

    def call(*args):
        capsys.readouterr()
        try:
            status = main([str(a) for a in args])
        except SystemExit as exc:
            status = exc.code
        return status, capsys.readouterr().err

    return call


def assert_one_line_error(status, err, *fragments, expected_status=None):
    assert status != 0, err
    if expected_status is not None:
        assert status == expected_status, (status, err)
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if ": error:" in line]
    assert len(lines) == 1, err
    for phrase in ("Graph execution error", "tensorflow.python", "{{node", "in user code"):
        assert phrase not in lines[0], lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


CASES = [
    (["saliency", "missing.keras", "img.png"], ["missing.keras"]),
    (["saliency", "notes.txt", "img.png"], ["notes.txt"]),
    (["saliency", "tiny.keras", "nothere.png"], ["nothere.png"]),
    (["saliency", "tiny.keras", "img.png", "--method", "bogus"], ["bogus"]),
    (["saliency", "tiny.keras", "img.png", "--class", "99"], ["99"]),
    (["saliency", "tiny.keras", "img.png", "--class", "abc"], ["abc"]),
    (["saliency", "tiny.keras", "img.png", "--class", "-1"], ["-1"]),
    (["saliency", "tiny.keras", "img.png", "--layer", "zzz"], ["zzz"]),
    (["saliency", "tiny.keras", "img.png", "--scale", "7"], ["7"]),
    (["saliency", "tiny.keras", "img.png", "--method", "patternnet"], ["patternnet"]),
    (["saliency", "tiny.keras", "img.png", "--out", "img.png"], ["img.png"]),
    (["cam", "tiny.keras", "img.png", "--penultimate-layer", "zzz"], ["zzz"]),
    (["cam", "dense.keras", "img.png"], []),
    (["cam", "tiny.keras", "img.png", "--method", "nope"], ["nope"]),
    (["sanity", "tiny.keras", "data.npz", "--n", "0"], ["--n"]),
    (["sanity", "tiny.keras", "data.npz", "--seed", "-1"], ["-1"]),
    (["sanity", "tiny.keras", "data.npz", "--method", "bogus"], ["bogus"]),
    (["sanity", "tiny.keras", "data.npz", "--mode", "sideways"], ["sideways"]),
    (["sanity", "tiny.keras", "nan.npz"], ["NaN"]),
    (["sanity", "tiny.keras", "missing.npz"], ["missing.npz"]),
    (["sanity", "tiny.keras", "notes.txt"], ["notes.txt"]),
    (["evaluate", "tiny.keras", "data.npz", "--metrics", "bogus"], ["bogus"]),
    (["evaluate", "tiny.keras", "data.npz", "--methods", "bogus"], ["bogus"]),
    (["evaluate", "tiny.keras", "data.npz", "--n", "0"], ["--n"]),
    (["evaluate", "tiny.keras", "data.npz", "--metrics", "deletion:steps=0"], ["steps"]),
    (["evaluate", "tiny.keras", "data.npz", "--metrics", "deletion:steps=abc"], ["steps"]),
    (["evaluate", "tiny.keras", "data.npz", "--metrics", "deletion:steps=1000000000000"],
     ["steps"]),
    (["evaluate", "tiny.keras", "data.npz", "--seed", "abc"], ["abc"]),
    (["evaluate", "tiny.keras", "data.npz", "--metrics", "pointing_game"], ["pointing_game"]),
    (["methods", "--bogus"], ["--bogus"]),
    (["bogus-command"], ["bogus-command"]),
    (["--import", "no_such_module_xyz", "methods"], ["no_such_module_xyz"]),
]


@pytest.mark.parametrize("args, fragments", CASES, ids=lambda v: " ".join(v) if isinstance(
    v, list) and v and v[0] != "" and not v[0].startswith(("7", "N")) else None)
def test_cli_errors_are_one_line(run, args, fragments):
    assert_one_line_error(*run(*args), *fragments)


def test_an_error_deep_inside_tensorflow_is_one_clean_line(run):
    """A layer failing inside the compiled call (TensorFlow's InvalidArgumentError): exit 2."""
    line = assert_one_line_error(*run("--import", "boom_layer.py", "saliency", "boom.keras",
                                      "img.png", "--out", "b.png"),
                                 "boom", "Boom refuses these inputs", expected_status=2)
    assert "model.predict" in line


def test_a_raw_tensorflow_error_anywhere_is_still_one_line(run, monkeypatch):
    """Even an unexpected TensorFlow error (not through the engine) exits 1 without traceback."""
    import tensorflow as tf

    import vis

    def broken(*args, **kwargs):
        raise tf.errors.InvalidArgumentError(None, None, "Graph execution error:\n\nDetected "
                                             "at node x defined at\n  File 'a.py'\n\nbad op")

    monkeypatch.setattr(vis, "explain", broken)
    assert_one_line_error(*run("saliency", "tiny.keras", "img.png", "--out", "c.png"),
                          expected_status=1)


def test_cli_works_on_good_arguments(run, work):
    status, err = run("saliency", "tiny.keras", "img.png", "--out", "ok.png")
    assert status == 0, err
    assert (work / "ok.png").is_file()
