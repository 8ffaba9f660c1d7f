"""vis.utils.plot_sequences: the drawn content (colours, text, bars, bands), not just no error."""

import html
from html.parser import HTMLParser

import matplotlib
import numpy as np
import pytest
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from vis.utils import plot_features, plot_series, plot_tokens, tokens_html
from vis.utils.plot_sequences import attribution_colors, token_strings

RDBU = matplotlib.colormaps["RdBu_r"]
REDS = matplotlib.colormaps["Reds"]


def luminance(rgba):
    r, g, b = np.asarray(rgba)[..., 0], np.asarray(rgba)[..., 1], np.asarray(rgba)[..., 2]
    return 0.299 * r + 0.587 * g + 0.114 * b


# --- colours ---------------------------------------------------------------------------------


def test_signed_colours_are_centred_at_zero_and_darken_with_magnitude():
    values = np.array([-2.0, -0.5, 0.0, 0.5, 1.0, 2.0])
    colors = attribution_colors(values)
    np.testing.assert_allclose(colors, RDBU(0.5 + 0.5 * values / 2.0))
    np.testing.assert_allclose(colors[2], RDBU(0.5))  # 0 is the middle of the colormap
    assert np.all(colors[values > 0, 0] > colors[values > 0, 2])  # positive: red
    assert np.all(colors[values < 0, 2] > colors[values < 0, 0])  # negative: blue
    for side in (values >= 0, values <= 0):  # darker with |value| on both sides
        mags, lum = np.abs(values[side]), luminance(colors[side])
        assert np.array_equal(np.argsort(mags), np.argsort(-lum))
    # one vmax for several plots; an all-zero map is all "zero colour"
    np.testing.assert_allclose(attribution_colors([1.0], vmax=4.0)[0], RDBU(0.625))
    np.testing.assert_allclose(attribution_colors(np.zeros(3)), np.tile(RDBU(0.5), (3, 1)))


def test_unsigned_colours_show_magnitudes():
    colors = attribution_colors([-3.0, 0.0, 1.5, 3.0], signed=False)
    np.testing.assert_allclose(colors, REDS(np.array([1.0, 0.0, 0.5, 1.0])))
    np.testing.assert_allclose(colors[0], colors[3])
    np.testing.assert_allclose(attribution_colors([1.0, -1.0], cmap="viridis"),
                               matplotlib.colormaps["viridis"]([1.0, 0.0]))


def test_colour_argument_errors():
    with pytest.raises(ValueError, match="NaN"):
        attribution_colors([0.0, np.nan])
    with pytest.raises(ValueError, match="`vmax`"):
        attribution_colors([1.0], vmax=0)
    with pytest.raises(ValueError, match="`cmap`"):
        attribution_colors([1.0], cmap="no_such_map")
    with pytest.raises(TypeError, match="`cmap`"):
        attribution_colors([1.0], cmap=3)


# --- tokens ----------------------------------------------------------------------------------


def test_token_strings_from_ids_and_vocabularies():
    words = ["<pad>", "good", "film", "a"]
    assert token_strings(np.array([3, 1, 2]), words) == ["a", "good", "film"]
    assert token_strings([3, 1], {w: i for i, w in enumerate(words)}) == ["a", "good"]
    assert token_strings([3, 1], dict(enumerate(words))) == ["a", "good"]
    assert token_strings([7, 8]) == ["7", "8"]
    assert token_strings(["x", "y"], words) == ["x", "y"]

    class Tensor:  # e.g. a tf.Tensor of ids
        def __array__(self, dtype=None, copy=None):
            return np.array([3, 1])

    assert token_strings(Tensor(), words) == ["a", "good"]
    with pytest.raises(TypeError, match="`tokens` must be a sequence"):
        token_strings(5)
    with pytest.raises(ValueError, match=r"`tokens\[1\]` is the id 9.*`vocabulary`"):
        token_strings([1, 9], words)
    with pytest.raises(ValueError, match="one sequence"):
        token_strings(np.ones((2, 3), "int32"), words)
    with pytest.raises(TypeError, match="not one string"):
        token_strings("a good film")
    with pytest.raises(TypeError, match=r"`tokens\[0\]`"):
        token_strings([1.5])
    with pytest.raises(TypeError, match="`vocabulary`"):
        token_strings([1], vocabulary=3)


def test_plot_tokens_colours_each_box_by_its_value():
    rng = np.random.default_rng(0)
    tokens = ["the", "film", "was", "not", "good", ",", "but", "wonderful"]
    values = rng.normal(size=len(tokens))
    fig = plot_tokens(tokens, values)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == tokens
    assert len(ax.patches) == len(tokens)
    faces = np.array([p.get_facecolor() for p in ax.patches])
    np.testing.assert_allclose(faces, RDBU(0.5 + 0.5 * values / np.abs(values).max()))
    assert np.all((faces[:, 0] > faces[:, 2]) == (values > 0))  # red exactly where positive
    # the darkest box is the largest |value|, which gets white text; the palest gets black
    darkest, palest = np.argmax(np.abs(values)), np.argmin(np.abs(values))
    assert np.argmin(luminance(faces)) == darkest
    assert to_rgba(ax.texts[darkest].get_color()) == to_rgba("white")
    assert to_rgba(ax.texts[palest].get_color()) == to_rgba("black")
    # each text sits on its own box
    for patch, text in zip(ax.patches, ax.texts):
        x, y = text.get_position()
        assert patch.get_x() < x < patch.get_x() + patch.get_width()
        assert patch.get_y() < y < patch.get_y() + patch.get_height()


def test_plot_tokens_wraps_lines_in_reading_order():
    tokens = ["abcd"] * 5
    ax = plot_tokens(tokens, np.arange(5.0), width=10).axes[0]
    rows = [p.get_y() for p in ax.patches]
    starts = [p.get_x() for p in ax.patches]
    assert len(set(rows)) == 3  # "abcd abcd" fits 10 columns, a third token does not
    assert rows == sorted(rows)
    for a, b in zip(ax.patches, ax.patches[1:]):
        if a.get_y() == b.get_y():  # same line: left to right, no overlap
            assert a.get_x() + a.get_width() < b.get_x()
    assert max(x + p.get_width() for x, p in zip(starts, ax.patches)) <= 10.5
    xmin, xmax = ax.get_xlim()
    assert xmin <= min(starts) and xmax >= max(s + p.get_width()
                                                for s, p in zip(starts, ax.patches))


def test_plot_tokens_ids_vocabulary_skip_and_ax():
    vocabulary = {"<pad>": 0, "great": 1, "plot": 2}
    ids = np.array([2, 1, 0, 0])
    values = np.array([0.1, 0.9, 0.0, 0.0])
    fig = Figure(figsize=(2, 1))
    ax = fig.add_subplot()
    out = plot_tokens(ids, values, ax=ax, vocabulary=vocabulary, skip=[0], fontsize=30,
                      signed=False)
    assert out is fig
    assert [t.get_text() for t in ax.texts] == ["plot", "great"]
    np.testing.assert_allclose([p.get_facecolor() for p in ax.patches], REDS([0.1 / 0.9, 1.0]))
    assert all(t.get_fontsize() < 30 for t in ax.texts)  # shrunk to fit the small axes
    assert [t.get_text() for t in plot_tokens(ids, values, vocabulary=vocabulary,
                                              skip="<pad>").axes[0].texts] == ["plot", "great"]


def test_plot_tokens_argument_errors():
    with pytest.raises(ValueError, match="`attributions` has 2 values for 3 tokens"):
        plot_tokens(["a", "b", "c"], [0.1, 0.2])
    with pytest.raises(ValueError, match="`attributions` must have shape"):
        plot_tokens(["a", "b"], np.zeros((1, 2)))
    with pytest.raises(ValueError, match="NaN"):
        plot_tokens(["a"], [np.inf])
    with pytest.raises(ValueError, match="`width`"):
        plot_tokens(["a"], [1.0], width=0)
    with pytest.raises(ValueError, match="`fontsize`"):
        plot_tokens(["a"], [1.0], fontsize=-1)
    with pytest.raises(ValueError, match="`skip` removes every token"):
        plot_tokens(["a"], [1.0], skip=["a"])
    with pytest.raises(TypeError, match="`ax`"):
        plot_tokens(["a"], [1.0], ax="left")


class _Spans(HTMLParser):
    def __init__(self):
        super().__init__()
        self.spans, self._open = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "span":
            self._open = dict(attrs)
            self._open["text"] = ""

    def handle_data(self, data):
        if self._open is not None:
            self._open["text"] += data

    def handle_endtag(self, tag):
        if tag == "span":
            self.spans.append(self._open)
            self._open = None


def _background(style):
    for part in style.split(";"):
        key, _, value = part.partition(":")
        if key.strip() == "background-color":
            return np.array(to_rgba(value.strip()))
    raise AssertionError(f"no background colour in {style!r}")


def test_tokens_html_has_one_escaped_span_per_token_with_its_colour_and_value():
    tokens = ["<script>", "a & b", 'say "hi"', "it's", "fine"]
    values = np.array([0.5, -1.0, 0.0, 2.0, -0.25])
    snippet = tokens_html(tokens, values)
    assert "<script>" not in snippet
    for token in tokens:
        assert html.escape(token) in snippet
    parser = _Spans()
    parser.feed(snippet)
    assert len(parser.spans) == len(tokens) == snippet.count("<span")
    assert [s["text"] for s in parser.spans] == tokens  # unescaped back to the tokens
    backgrounds = np.array([_background(s["style"]) for s in parser.spans])
    np.testing.assert_allclose(backgrounds[:, :3], RDBU(0.5 + 0.25 * values)[:, :3], atol=0.003)
    for span, token, value in zip(parser.spans, tokens, values):
        label, _, shown = span["title"].rpartition(": ")  # the tooltip survives the quotes
        assert label == token
        assert float(shown) == pytest.approx(value, abs=1e-3)


def test_tokens_html_ids_skip_and_errors():
    words = ["<pad>", "good", "bad"]
    parser = _Spans()
    parser.feed(tokens_html([1, 2, 0], [1.0, -1.0, 0.0], vocabulary=words, skip=[0]))
    assert [s["text"] for s in parser.spans] == ["good", "bad"]
    with pytest.raises(ValueError, match="`attributions` has 1 values for 2 tokens"):
        tokens_html(["a", "b"], [1.0])
    with pytest.raises(ValueError, match="`digits`"):
        tokens_html(["a"], [1.0], digits=0)


# --- series ----------------------------------------------------------------------------------


def _panels(fig):
    return [ax for ax in fig.axes if ax.images]


def test_plot_series_draws_one_band_per_feature_over_the_whole_series():
    rng = np.random.default_rng(1)
    series = rng.normal(size=(30, 2))
    attr = rng.normal(size=(30, 2))
    attr[12, 0] = 5.0
    fig = plot_series(series, attr, feature_names=["signal", "noise"])
    panels = _panels(fig)
    assert len(panels) == 2
    for f, ax in enumerate(panels):
        band = ax.images[0]
        left, right, bottom, top = band.get_extent()
        assert (left, right) == (-0.5, 29.5)  # one column per step, covering every step
        np.testing.assert_allclose(band.get_array()[0], attr[:, f])
        line = ax.lines[0]
        np.testing.assert_allclose(line.get_xdata(), np.arange(30))
        np.testing.assert_allclose(line.get_ydata(), series[:, f])
        assert bottom < series[:, f].min() and top > series[:, f].max()  # behind the line
        assert band.get_zorder() < line.get_zorder()
        assert ax.get_ylabel() == ["signal", "noise"][f]
        # one colour scale for all panels, centred at 0
        assert band.norm.vmax == pytest.approx(5.0) and band.norm.vmin == pytest.approx(-5.0)
        rgba = band.to_rgba(band.get_array())[0]
        assert np.all((rgba[:, 0] > rgba[:, 2]) == (attr[:, f] > 0))
    assert np.argmin(luminance(panels[0].images[0].to_rgba(attr[None, :, 0])[0])) == 12


def test_plot_series_shared_band_for_a_per_step_map_and_ax():
    t = np.arange(20.0)
    series = np.stack([np.sin(t), np.cos(t), t / 10], axis=1)
    cam = np.exp(-((t - 7) ** 2))
    fig = plot_series(series, cam, signed=False, colorbar=False)
    (ax,) = _panels(fig)
    assert len(fig.axes) == 1 and len(ax.lines) == 3
    np.testing.assert_allclose(ax.images[0].get_array()[0], cam)
    assert ax.images[0].norm.vmin == 0.0
    fig2 = Figure()
    own = fig2.add_subplot()
    assert plot_series(t, cam, ax=own) is fig2 and own.images
    np.testing.assert_allclose(own.lines[0].get_ydata(), t)
    grid = Figure().subplots(2, 1)
    plot_series(series[:, :2], np.ones((20, 2)), ax=grid)
    assert all(a.images for a in grid)
    assert [a.get_xlabel() for a in grid] == ["", "time step"]  # only under the bottom panel


def test_plot_series_argument_errors():
    series = np.zeros((10, 2))
    with pytest.raises(ValueError, match="`attributions` covers 9 time steps but `series` has 10"):
        plot_series(series, np.zeros(9))
    with pytest.raises(ValueError, match="`attributions` has 3 features but `series` has 2"):
        plot_series(series, np.zeros((10, 3)))
    with pytest.raises(ValueError, match="`series` must have shape"):
        plot_series(np.zeros((2, 10, 2)), np.zeros(10))
    with pytest.raises(ValueError, match="`feature_names` has 1 names for 2 features"):
        plot_series(series, np.zeros(10), feature_names=["a"])
    with pytest.raises(ValueError, match="`ax`: .* 2 band"):
        plot_series(series, np.zeros((10, 2)), ax=Figure().add_subplot())
    with pytest.raises(ValueError, match="`alpha`"):
        plot_series(series, np.zeros(10), alpha=2)


# --- features --------------------------------------------------------------------------------


def test_plot_features_bars_equal_the_values_sorted_by_magnitude():
    names = ["age", "dose", "noise a", "hint", "noise b"]
    values = np.array([0.5, -1.2, 0.05, 2.0, -0.1])
    ax = plot_features(values, names).axes[0]
    bars = ax.patches
    widths = np.array([b.get_width() for b in bars])
    by_magnitude = sorted(zip(values, names), key=lambda p: -abs(p[0]))
    np.testing.assert_allclose(widths, [v for v, _ in by_magnitude])
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [n for _, n in by_magnitude]
    centres = [b.get_y() + b.get_height() / 2 for b in bars]
    # the largest |value| is drawn at the top (the y axis is inverted)
    bottom, top = ax.get_ylim()
    assert bottom > top and abs(centres[0] - top) < abs(centres[-1] - top)
    reds = [b.get_facecolor()[0] > b.get_facecolor()[2] for b in bars]
    assert reds == [v > 0 for v, _ in by_magnitude]
    assert all(b.get_x() == 0 for b in bars)  # bars start at 0


def test_plot_features_top_ax_and_errors():
    values = np.array([0.1, -3.0, 2.0])
    fig = Figure()
    ax = fig.add_subplot()
    assert plot_features(values, ["a", "b", "c"], ax=ax, top=2) is fig
    np.testing.assert_allclose([b.get_width() for b in ax.patches], [-3.0, 2.0])
    assert [t.get_text() for t in plot_features(values).axes[0].get_yticklabels()] == [
        "x1", "x2", "x0"]
    with pytest.raises(ValueError, match="`feature_names` has 2 names for 3 features"):
        plot_features(values, ["a", "b"])
    with pytest.raises(ValueError, match=r"shape \(F,\)"):
        plot_features(np.zeros((2, 3)), ["a", "b", "c"])
    with pytest.raises(ValueError, match="`top`"):
        plot_features(values, top=0)
    with pytest.raises(ValueError, match="NaN"):
        plot_features([np.nan, 1.0])
    with pytest.raises(TypeError, match="`ax`"):
        plot_features(values, ax=object())
