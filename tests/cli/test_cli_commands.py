"""`vis saliency`, `vis cam`, `vis sanity` on tiny saved models: one subprocess per command,
the other options through `vis.cli.main()` in this process (the same code path)."""

import re

import numpy as np
import pytest
from cli_testing import (
    assert_png,
    build_nested_model,
    build_tiny_model,
    build_two_output_model,
    run_vis,
    vis_main,
    write_images,
)
from PIL import Image

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_commands")
    model = build_tiny_model(folder / "tiny.keras")
    blob, gray = write_images(folder)
    rng = np.random.default_rng(0)
    np.savez(folder / "data.npz", x=rng.random((6, 8, 8, 1)).astype("float32"),
             y=np.array([0, 1, 2, 0, 1, 2]))
    return folder, model, blob, gray


def gray_8x8(image_path):
    """The image as the CLI must feed it to an 8x8x1 model: grayscale, bilinear, [0, 1]."""
    with Image.open(image_path) as im:
        x = np.asarray(im.convert("L").resize((8, 8), Image.Resampling.BILINEAR), "float32")
    return (x / 255.0)[None, ..., None]


def minmax(g):
    return (g - g.min()) / (g.max() - g.min())


def reference_gradient_map(model, image_path, klass=None):
    """|d logit / d x| of the tiny model on the image loaded by hand, min-max scaled."""
    import tensorflow as tf

    x = gray_8x8(image_path)
    dense = model.get_layer("predictions")
    import keras

    features = keras.Model(model.inputs, model.get_layer("flatten").output)
    kernel, bias = dense.get_weights()
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        logits = tf.matmul(features(xt), kernel) + bias
        k = int(np.argmax(logits.numpy()[0])) if klass is None else klass
        score = logits[0, k]
    g = np.abs(tape.gradient(score, xt).numpy()[0, ..., 0])
    return (g - g.min()) / (g.max() - g.min()), k


def test_saliency_gradient_matches_reference(work):
    folder, model, blob, _ = work
    proc = run_vis("saliency", "tiny.keras", blob.name, "--out", "one.png", "--npy", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no TensorFlow banner, no warnings
    assert proc.stdout.strip().splitlines() == ["one.png"]
    assert_png(folder / "one.png")
    expected, _ = reference_gradient_map(model, blob)
    np.testing.assert_allclose(np.load(folder / "one.npy"), expected, atol=1e-5)


def test_saliency_guided_several_images_into_folder_with_class(work):
    folder, model, blob, gray = work
    proc = run_vis("saliency", "tiny.keras", blob.name, gray.name, "--method", "guided",
                   "--class", "1", "--out", "maps", "--npy", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    for stem in ("blob", "gray"):
        assert_png(folder / "maps" / f"{stem}_guided.png")
        m = np.load(folder / "maps" / f"{stem}_guided.npy")
        assert m.shape == (8, 8) and m.min() == 0.0 and m.max() == 1.0


def test_cam_gradcam_plus_plus(work):
    """(Guided Grad-CAM and plain Grad-CAM run in process in `test_every_method_in_process`.)"""
    folder, _, blob, _ = work
    proc = run_vis("cam", "tiny.keras", blob.name, "--method", "gradcam++",
                   "--penultimate-layer", "conv1", "--class", "0", "--out", "cams", "--npy",
                   cwd=folder)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert_png(folder / "cams" / "blob_gradcampp.png")
    cam = np.load(folder / "cams" / "blob_gradcampp.npy")
    assert cam.shape == (8, 8) and np.all(np.isfinite(cam)) and cam.min() >= 0.0


def test_sanity_writes_figures_and_summary(work):
    """`--method` takes one comma-separated value: placed before MODEL, it swallows nothing."""
    folder, *_ = work
    proc = run_vis("sanity", "--method", "gradient,gradcam", "tiny.keras", "data.npz",
                   "--n", "4", "--out", "sanity", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    assert "4 images" in (folder / "sanity" / "summary.md").read_text()
    expected = [f"sanity_{m}_{kind}.png" for m in ("gradient", "gradcam")
                for kind in ("curves", "maps")] + ["sanity_comparison.png"]
    for name in expected:
        assert_png(folder / "sanity" / name)
        assert f"sanity/{name}" in proc.stdout
    summary = (folder / "sanity" / "summary.md").read_text()
    for method in ("gradient", "gradcam"):
        section = summary.split(f"## {method}")[1]
        # one row per randomized layer, top first: predictions, conv2, conv1
        rows = re.findall(r"^(predictions|conv2|conv1) ", section, flags=re.MULTILINE)
        assert rows[:3] == ["predictions", "conv2", "conv1"], section


def test_cli_sanity_defaults_are_registered_explainers():
    import vis.methods
    from vis.cli import build_parser
    from vis.cli.sanity import chosen_methods
    from vis.sanity import explainers

    assert set(vis.methods.SANITY_DEFAULTS) <= set(explainers.names())
    # every registered name and alias is accepted, each method once (first spelling kept)
    every = vis.methods.names(aliases=True)
    args = build_parser().parse_args(["sanity", "m.keras", "d.npz", "--method", ",".join(every)])
    chosen = chosen_methods(args)
    assert sorted(vis.methods.get(m).name for m in chosen) == vis.methods.names()
    assert all(chosen.index(m) <= every.index(m) for m in chosen)


def test_every_method_in_process(work, capsys, monkeypatch):
    """Every registered method through `main()` (same code path, no subprocess start-up):
    `vis cam` for the CAM family, `vis saliency` for the others; methods that learn from data
    are fitted on `--fit-data`."""
    import vis.methods
    from vis.cli import main

    folder, *_ = work
    monkeypatch.chdir(folder)
    for name in vis.methods.names():
        method = vis.methods.get(name)
        command = "cam" if method.family == "cam" else "saliency"
        out = f"inproc/{command}_{name}.png"
        fit = ["--fit-data", "data.npz"] if method.fit is not None else []
        status = main([command, "tiny.keras", "gray.jpg", "--method", name, "--out", out,
                       "--npy", *fit])
        assert status == 0, (name, capsys.readouterr().err)
        assert_png(folder / out)
        m = np.load((folder / out).with_suffix(".npy"))
        assert m.shape == (8, 8) and np.all(np.isfinite(m)), name
        assert 0.0 <= m.min() and m.max() <= 1.0, name


def test_display_maps_are_the_raw_maps_made_magnitudes(work, capsys, monkeypatch):
    """The .npy is vis.explain's raw map as a heat map: |map| (signed methods), max over
    channels, min-max scaled; a CAM map (unsigned, spatial) is only min-max scaled."""
    import vis
    from vis.cli import main

    folder, model, blob, _ = work
    monkeypatch.chdir(folder)
    x = gray_8x8(blob)
    for args, method, options in [
        (["saliency", "--method", "ig"], "integrated_gradients", {}),
        (["cam", "--penultimate-layer", "conv1"], "gradcam", {"layer": "conv1"}),
    ]:
        out = f"display/{method}.png"
        status = main([args[0], "tiny.keras", blob.name, *args[1:], "--class", "2", "--out",
                       out, "--npy"])
        assert status == 0, capsys.readouterr().err
        raw = vis.explain(model, x, method, 2, **options)[0]
        heat = np.abs(raw).max(axis=-1) if raw.ndim == 3 else raw
        np.testing.assert_allclose(np.load((folder / out).with_suffix(".npy")), minmax(heat),
                                   atol=1e-5)


def test_fitted_method_without_fit_data(work, capsys, monkeypatch):
    """PatternNet needs patterns: without --fit-data, one line saying what to give."""
    from cli_testing import assert_user_error

    folder, *_ = work
    monkeypatch.chdir(folder)
    result = vis_main(capsys, "saliency", "tiny.keras", "gray.jpg", "--method", "pattern_net",
                      "--out", "nofit/x.png")
    assert_user_error(result, "--method pattern_net", "`patterns`", "--fit-data DATA.npz")
    assert not (folder / "nofit").exists()


def test_rgb_model_with_255_scaling_in_process(work, capsys, monkeypatch):
    """A grayscale JPEG fed to an RGB model that expects [0, 255]: converted, resized, scaled."""
    import keras
    import tensorflow as tf

    from vis.cli import main

    folder, _, _, gray = work
    keras.utils.set_random_seed(1)
    inputs = keras.Input((6, 5, 3))
    h = keras.layers.Rescaling(1 / 255.0)(inputs)
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    outputs = keras.layers.Dense(2, name="logits")(h)
    model = keras.Model(inputs, outputs)
    model.save(folder / "rgb.keras")
    monkeypatch.chdir(folder)
    status = main(["saliency", "rgb.keras", "gray.jpg", "--scale", "255", "--class", "1",
                   "--out", "rgb/out.png", "--npy"])
    assert status == 0, capsys.readouterr().err
    with Image.open(gray) as im:
        x = np.asarray(im.convert("RGB").resize((5, 6), Image.Resampling.BILINEAR), "float32")
    xt = tf.constant(x[None])
    with tf.GradientTape() as tape:
        tape.watch(xt)
        score = model(xt)[0, 1]
    g = np.abs(tape.gradient(score, xt).numpy()[0]).max(axis=-1)
    expected = (g - g.min()) / (g.max() - g.min())
    np.testing.assert_allclose(np.load(folder / "rgb" / "out.npy"), expected, atol=1e-5)
    assert_png(folder / "rgb" / "out.png")


def test_sanity_method_option_can_be_repeated(work, capsys, monkeypatch):
    """`--method a --method b,a`: a, b once each, in order (the figures are not drawn here)."""
    import vis.cli.sanity

    folder, *_ = work
    monkeypatch.chdir(folder)
    seen = []

    def fake_test(model, x, y, method, **kwargs):
        seen.append((method, x.shape, y.tolist()))
        raise ValueError("stop here")

    monkeypatch.setattr("vis.sanity.model_randomization_test", fake_test)
    result = vis_main(capsys, "sanity", "tiny.keras", "data.npz", "--method", "gradient",
                      "--method", "lrp,gradient", "--n", "2")
    assert result.returncode == 2 and "--method gradient: stop here" in result.stderr
    assert seen == [("gradient", (2, 8, 8, 1), [0, 1])]
    args = vis.cli.build_parser().parse_args(["sanity", "m.keras", "d.npz", "--method",
                                              "gradient", "--method", "lrp,gradient"])
    assert vis.cli.sanity.chosen_methods(args) == ["gradient", "lrp"]
    default = vis.cli.build_parser().parse_args(["sanity", "m.keras", "d.npz"])
    assert vis.cli.sanity.chosen_methods(default) == ["gradient", "guided_backprop"]


def test_class_top_on_a_nested_layer(work, capsys, monkeypatch):
    """`--layer base/conv5 --class top`: the filter with the largest mean activation, whose
    spatial-mean activation is the explained score."""
    import tensorflow as tf

    folder, _, blob, _ = work
    model = build_nested_model(folder / "nested.keras")
    monkeypatch.chdir(folder)
    result = vis_main(capsys, "saliency", "nested.keras", blob.name, "--layer", "base/conv5",
                      "--out", "nested/top.png", "--npy")
    assert result.returncode == 0, result.stderr
    x = tf.constant(gray_8x8(blob))
    with tf.GradientTape() as tape:
        tape.watch(x)
        means = tf.reduce_mean(model.get_layer("base")(x), axis=(1, 2))[0]
        k = int(np.argmax(means.numpy()))
        score = means[k]
    expected = minmax(np.abs(tape.gradient(score, x).numpy()[0, ..., 0]))
    np.testing.assert_allclose(np.load(folder / "nested" / "top.npy"), expected, atol=1e-5)
    assert_png(folder / "nested" / "top.png")


def test_two_output_model_with_layer(work, capsys, monkeypatch):
    import keras
    import tensorflow as tf

    folder, _, blob, _ = work
    model = build_two_output_model(folder / "twoout.keras")
    monkeypatch.chdir(folder)
    result = vis_main(capsys, "saliency", "twoout.keras", blob.name, "--layer", "b",
                      "--out", "two/b.png", "--npy")
    assert result.returncode == 0, result.stderr
    x = tf.constant(gray_8x8(blob))
    head = keras.Model(model.inputs, model.get_layer("b").output)
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = head(x)[0]
        score = logits[int(np.argmax(logits.numpy()))]
    expected = minmax(np.abs(tape.gradient(score, x).numpy()[0, ..., 0]))
    np.testing.assert_allclose(np.load(folder / "two" / "b.npy"), expected, atol=1e-5)


@pytest.mark.parametrize("name, magic", [("fig.jpg", b"\xff\xd8\xff"), ("fig.jpeg", b"\xff\xd8"),
                                         ("fig.pdf", b"%PDF"), ("fig.svg", b"<?xml")])
def test_file_formats(work, capsys, monkeypatch, name, magic):
    folder, *_ = work
    monkeypatch.chdir(folder)
    result = vis_main(capsys, "cam", "tiny.keras", "gray.jpg", "--out", f"formats/{name}")
    assert result.returncode == 0, result.stderr
    path = folder / "formats" / name
    assert path.is_file() and path.read_bytes().startswith(magic)
    assert not path.with_suffix("").exists()  # no folder named after the file
    if name.endswith((".jpg", ".jpeg")):
        with Image.open(path) as im:
            assert im.format == "JPEG" and im.size[0] > 300


def test_panel_map_and_overlay_share_the_colormap():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vis.cli._figures import panel_figure
    from vis.utils.image import overlay_heatmap

    rng = np.random.default_rng(0)
    image, heat = rng.random((8, 8, 1)), rng.random((8, 8))
    fig = panel_figure(image, heat, "t")
    axes = [ax for ax in fig.axes if ax.images]
    shown = axes[1].images[0]
    assert shown.get_cmap().name == "inferno"
    rgb = np.repeat(image, 3, axis=-1)
    np.testing.assert_allclose(axes[2].images[0].get_array(),
                               overlay_heatmap(rgb, heat, alpha=0.5, cmap=shown.get_cmap().name),
                               atol=1e-6)
    plt.close(fig)
