"""Plots for non-image inputs: tokens (text), time series and tabular features.

`vis.explain` gives one value per token for a text model, a `(T,)` or `(T, F)` map for a
sequence and an `(F,)` map for a feature vector; these helpers draw them. Signed maps use a
diverging colormap centred at 0 (red: the value pushes the target score up, blue: down).
Everything is drawn on `matplotlib.figure.Figure` objects (or on the `ax` you pass): no pyplot
state, no backend change, safe on headless machines.
"""

from __future__ import annotations

import html
import numbers
from collections.abc import Collection, Mapping, Sequence

import numpy as np
from matplotlib.colors import Normalize, to_hex
from matplotlib.figure import Figure

__all__ = [
    "attribution_colors",
    "token_strings",
    "plot_tokens",
    "tokens_html",
    "plot_series",
    "plot_features",
]

SIGNED_CMAP = "RdBu_r"
UNSIGNED_CMAP = "Reds"
_CHAR_WIDTH = 0.602  # advance width of DejaVu Sans Mono, in em


def _values(attributions, param: str, ndim: tuple[int, ...] = (1,)) -> np.ndarray:
    try:
        values = np.asarray(attributions, dtype="float64")
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`{param}` must be an array of numbers: {exc}") from None
    if values.ndim not in ndim:
        shapes = " or ".join({1: "(T,)", 2: "(T, F)"}[d] for d in ndim)
        raise ValueError(f"`{param}` must have shape {shapes}, got {values.shape}.")
    if values.size == 0:
        raise ValueError(f"`{param}` is empty.")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"`{param}` contains NaN or inf values.")
    return values


def _norm(values: np.ndarray, signed: bool, vmax) -> Normalize:
    if vmax is None:
        vmax = float(np.max(np.abs(values))) if values.size else 0.0
    else:
        if isinstance(vmax, bool) or not isinstance(vmax, numbers.Real) or not vmax > 0:
            raise ValueError(f"`vmax` must be a number > 0 or None, got {vmax!r}.")
        vmax = float(vmax)
    if vmax == 0.0:  # an all-zero map: every value gets the colour of 0
        vmax = 1.0
    return Normalize(-vmax, vmax) if signed else Normalize(0.0, vmax)


def _cmap(cmap, signed: bool):
    import matplotlib

    if cmap is None:
        cmap = SIGNED_CMAP if signed else UNSIGNED_CMAP
    if isinstance(cmap, str):
        try:
            return matplotlib.colormaps[cmap]
        except KeyError:
            raise ValueError(f"`cmap`: unknown colormap {cmap!r}.") from None
    if not callable(cmap):
        raise TypeError(f"`cmap` must be a colormap name or a Colormap, got {type(cmap).__name__}.")
    return cmap


def attribution_colors(attributions, cmap=None, signed: bool = True, vmax=None) -> np.ndarray:
    """The RGBA colour of each attribution value, as the plots of this module draw them.

    Signed maps use a diverging colormap centred at 0: `cmap(0.5 + 0.5 * v / vmax)`, so 0 is
    the colormap's middle (white for `"RdBu_r"`), positive values red and negative values blue.
    Unsigned maps show magnitudes on a sequential colormap: `cmap(|v| / vmax)`.

    Args:
        attributions: Values of any shape.
        cmap: A colormap name or `Colormap`. Defaults to `None` (`"RdBu_r"` for signed maps,
            `"Reds"` otherwise).
        signed: Whether the sign matters. Defaults to `True`.
        vmax: The magnitude of the colormap's ends. Defaults to `None` (the largest |value|;
            pass one `vmax` to compare several plots).

    Returns:
        A float array of shape `attributions.shape + (4,)`, RGBA in [0, 1].

    Raises:
        ValueError: NaN or inf values, an unknown colormap, or `vmax <= 0`.
        TypeError: Values that are not numbers, or a `cmap` of the wrong type.

    Example:
        >>> attribution_colors([-1.0, 0.0, 2.0]).round(2)[:, :3]
        array([[0.42, 0.68, 0.82],
               [0.97, 0.97, 0.96],
               [0.4 , 0.  , 0.12]])
    """
    try:
        values = np.asarray(attributions, dtype="float64")
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`attributions` must be an array of numbers: {exc}") from None
    if not np.all(np.isfinite(values)):
        raise ValueError("`attributions` contains NaN or inf values.")
    signed = bool(signed)
    shown = values if signed else np.abs(values)
    return np.asarray(_cmap(cmap, signed)(_norm(shown, signed, vmax)(shown)), dtype="float64")


def _text_color(rgba) -> str:
    """Black on light backgrounds, white on dark ones (ITU-R 601 luma)."""
    r, g, b = rgba[:3]
    return "#000000" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "#ffffff"


def _vocabulary_lookup(vocabulary):
    if isinstance(vocabulary, Mapping):
        items = list(vocabulary.items())
        if items and all(isinstance(k, str) for k, _ in items):  # a word index: word -> id
            return {int(v): k for k, v in items}
        return {int(k): str(v) for k, v in items}
    if isinstance(vocabulary, Sequence) and not isinstance(vocabulary, (str, bytes)):
        return {i: str(w) for i, w in enumerate(vocabulary)}
    if isinstance(vocabulary, np.ndarray) and vocabulary.ndim == 1:
        return {i: str(w) for i, w in enumerate(vocabulary.tolist())}
    raise TypeError(
        "`vocabulary` must be a list of words (index = id), a dict id -> word or a dict "
        f"word -> id, got {type(vocabulary).__name__}."
    )


def _token_items(tokens) -> list:
    """The tokens of one sequence as a list of Python strings / ints."""
    if isinstance(tokens, (str, bytes)):
        raise TypeError("`tokens` must be a sequence of tokens, not one string (split it first).")
    if not isinstance(tokens, (list, tuple, np.ndarray)) and hasattr(tokens, "__array__"):
        tokens = np.asarray(tokens)  # a tensor
    if isinstance(tokens, np.ndarray):
        if tokens.ndim != 1:
            raise ValueError(
                f"`tokens` must be one sequence (a 1-D array), got shape {tokens.shape}; plot "
                "one sample at a time."
            )
        return tokens.tolist()
    try:
        return list(tokens)
    except TypeError:
        raise TypeError(f"`tokens` must be a sequence of tokens, got {type(tokens).__name__}."
                        ) from None


def token_strings(tokens, vocabulary=None) -> list[str]:
    """The tokens as strings: strings are kept, integer ids are looked up in `vocabulary`.

    Args:
        tokens: One sequence: a list of strings, or token ids (a list or a 1-D array).
        vocabulary: For ids: a list of words (index = id, like
            `TextVectorization.get_vocabulary()`), a dict `{id: word}`, or a word index
            `{word: id}`. Defaults to `None` (ids are shown as numbers).

    Returns:
        One string per token.

    Raises:
        ValueError: A batch instead of one sequence, an empty sequence, or an id that
            `vocabulary` does not hold.
        TypeError: Tokens that are neither strings nor integers, or a bad `vocabulary`.

    Example:
        >>> token_strings([3, 1, 2], ["<pad>", "good", "film", "a"])
        ['a', 'good', 'film']
    """
    items = _token_items(tokens)
    if not items:
        raise ValueError("`tokens` is empty.")
    lookup = None if vocabulary is None else _vocabulary_lookup(vocabulary)
    out = []
    for i, token in enumerate(items):
        if isinstance(token, str):
            out.append(token)
        elif isinstance(token, (int, np.integer)) and not isinstance(token, bool):
            if lookup is None:
                out.append(str(int(token)))
            elif int(token) in lookup:
                out.append(lookup[int(token)])
            else:
                raise ValueError(f"`tokens[{i}]` is the id {int(token)}, which `vocabulary` "
                                 "does not hold.")
        elif isinstance(token, (list, tuple, np.ndarray)):
            raise ValueError("`tokens` must be one sequence; plot one sample at a time.")
        else:
            raise TypeError(f"`tokens[{i}]` must be a string or an integer id, got "
                            f"{type(token).__name__}.")
    return out


def _tokens_and_values(tokens, attributions, vocabulary, skip):
    raw = _token_items(tokens)
    words = token_strings(raw, vocabulary)
    values = _values(attributions, "attributions")
    if len(values) != len(words):
        raise ValueError(
            f"`attributions` has {len(values)} values for {len(words)} tokens; give one value "
            "per token (`vis.explain` returns `(N, T)` for token inputs: pass one row)."
        )
    if isinstance(skip, (str, int, np.integer)):
        skip = (skip,)
    if not isinstance(skip, Collection):
        raise TypeError(f"`skip` must be a collection of tokens or ids, got {type(skip).__name__}.")
    skip = list(skip)
    keep = [not (w in skip or r in skip) for r, w in zip(raw, words)]
    if not any(keep):
        raise ValueError("`skip` removes every token.")
    return [w for w, k in zip(words, keep) if k], values[np.asarray(keep)]


def tokens_html(
    tokens,
    attributions,
    vocabulary=None,
    cmap=None,
    signed: bool = True,
    vmax=None,
    skip: Collection = (),
    digits: int = 3,
) -> str:
    """Text as an HTML snippet, each token on a background coloured by its attribution.

    For notebooks: `IPython.display.HTML(tokens_html(...))`. Every token is one `<span>` with an
    inline background colour (see `attribution_colors`) and a `title` tooltip with its value;
    tokens are HTML-escaped.

    Args:
        tokens: One sequence: strings, or ids with `vocabulary` (see `token_strings`).
        attributions: One value per token `(T,)`, e.g. a row of `vis.explain` on a token input.
        vocabulary: Maps ids to words (see `token_strings`). Defaults to `None`.
        cmap: A colormap name or `Colormap`. Defaults to `None` (`"RdBu_r"` signed, `"Reds"`
            unsigned).
        signed: Whether the sign matters (`False` for magnitudes such as the max-|gradient|
            token saliency). Defaults to `True`.
        vmax: The magnitude of the colormap's ends. Defaults to `None` (the largest |value|).
        skip: Tokens (strings or ids) to leave out, e.g. the padding id. Defaults to `()`.
        digits: Significant digits of the tooltip values. Defaults to `3`.

    Returns:
        An HTML string: a `<div>` of `<span>`s.

    Raises:
        ValueError: `tokens` and `attributions` of different lengths, NaN values, an id not in
            `vocabulary`, a `skip` that removes every token, or a bad `vmax` / `digits`.
        TypeError: Tokens or a vocabulary of the wrong type.

    Example:
        >>> from IPython.display import HTML
        >>> ig = vis.explain(model, ids, "integrated_gradients", baseline_token=0)
        >>> HTML(tokens_html(ids[0], ig[0], vocabulary=words, skip=[0]))
    """
    if isinstance(digits, bool) or not isinstance(digits, (int, np.integer)) or digits < 1:
        raise ValueError(f"`digits` must be a positive int, got {digits!r}.")
    words, values = _tokens_and_values(tokens, attributions, vocabulary, skip)
    colors = attribution_colors(values, cmap, signed, vmax)
    spans = []
    for word, value, rgba in zip(words, values, colors):
        title = html.escape(f"{word}: {value:+.{int(digits)}g}", quote=True)
        style = (f"background-color: {to_hex(rgba, keep_alpha=False)}; color: {_text_color(rgba)}; "
                 "padding: 1px 3px; margin: 0 1px; border-radius: 3px; white-space: pre")
        spans.append(f'<span style="{style}" title="{title}">{html.escape(word)}</span>')
    return ('<div class="vis-tokens" style="font-family: monospace; line-height: 2.0">'
            + " ".join(spans) + "</div>")


def _layout(lengths: Sequence[int], width: int) -> list[tuple[int, int]]:
    """`(line, start column)` per token: tokens one space apart, wrapped at `width` columns."""
    out, line, col = [], 0, 0
    for n in lengths:
        if col > 0 and col + n > width:
            line, col = line + 1, 0
        out.append((line, col))
        col += n + 1
    return out


def plot_tokens(
    tokens,
    attributions,
    ax=None,
    cmap=None,
    signed: bool = True,
    *,
    vocabulary=None,
    vmax=None,
    skip: Collection = (),
    width: int = 60,
    fontsize: float = 11.0,
    title: str | None = None,
) -> Figure:
    """Draws text with each token on a background coloured by its attribution.

    Tokens are laid out in a monospace font, one space apart, wrapped at `width` characters.
    Each token is a `Rectangle` patch (in `ax.patches`, in token order) under its text (in
    `ax.texts`); dark backgrounds get white text.

    Args:
        tokens: One sequence: strings, or ids with `vocabulary` (see `token_strings`).
        attributions: One value per token `(T,)`, e.g. a row of `vis.explain` on a token input.
        ax: A matplotlib `Axes` to draw on: the text starts at its top left corner, and the
            font shrinks to fit the axes' size at the time of the call (lay out the figure,
            e.g. with `subplots_adjust`, before). Defaults to `None` (a new figure sized to
            the text).
        cmap: A colormap name or `Colormap`. Defaults to `None` (`"RdBu_r"` signed, `"Reds"`
            unsigned).
        signed: Whether the sign matters: a diverging colormap centred at 0 (`True`), or
            magnitudes on a sequential one (`False`). Defaults to `True`.
        vocabulary: Maps ids to words (see `token_strings`). Defaults to `None`.
        vmax: The magnitude of the colormap's ends. Defaults to `None` (the largest |value|;
            pass one `vmax` to compare several sentences).
        skip: Tokens (strings or ids) to leave out, e.g. the padding id. Defaults to `()`.
        width: Characters per line. Defaults to `60`.
        fontsize: Font size in points (the largest that fits when `ax` is given). Defaults to
            `11.0`.
        title: Axes title. Defaults to `None`.

    Returns:
        The matplotlib `Figure`.

    Raises:
        ValueError: `tokens` and `attributions` of different lengths, NaN values, an id not in
            `vocabulary`, a `skip` that removes every token, or a bad `width`, `fontsize` or
            `vmax`.
        TypeError: Tokens, vocabulary or `ax` of the wrong type.

    Example:
        >>> ig = vis.explain(model, ids, "integrated_gradients", baseline_token=0)  # (N, T)
        >>> fig = plot_tokens(ids[0], ig[0], vocabulary=words, skip=[0])
        >>> fig.savefig("tokens.png")
    """
    from matplotlib.patches import Rectangle

    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1:
        raise ValueError(f"`width` must be a positive int, got {width!r}.")
    if isinstance(fontsize, bool) or not isinstance(fontsize, numbers.Real) or not fontsize > 0:
        raise ValueError(f"`fontsize` must be a number > 0, got {fontsize!r}.")
    words, values = _tokens_and_values(tokens, attributions, vocabulary, skip)
    colors = attribution_colors(values, cmap, signed, vmax)
    places = _layout([len(w) for w in words], int(width))
    lines = places[-1][0] + 1
    columns = max(col + len(w) for (_, col), w in zip(places, words))
    span_x, span_y = columns + 0.6, lines + 0.2
    if ax is None:
        top = 0.35 if title else 0.0
        fig = Figure(figsize=(span_x * _CHAR_WIDTH * fontsize / 72 + 0.2,
                              span_y * 1.6 * fontsize / 72 + 0.2 + top))
        height = fig.get_figheight()
        ax = fig.add_axes((0.0, 0.1 / height, 1.0, 1.0 - (0.2 + top) / height))
    else:
        fig = _figure_of(ax)
    box = ax.get_position()
    width_pt = box.width * fig.get_figwidth() * 72
    height_pt = box.height * fig.get_figheight() * 72
    size = min(float(fontsize), width_pt / (span_x * _CHAR_WIDTH), height_pt / (span_y * 1.3))
    # keep characters in proportion in a large axes: the text starts at its top left corner
    span_x = max(span_x, width_pt / (size * _CHAR_WIDTH))
    span_y = max(span_y, height_pt / (size * 1.6))
    for word, (line, col), rgba in zip(words, places, colors):
        ax.add_patch(Rectangle((col - 0.2, line + 0.1), len(word) + 0.4, 0.8, facecolor=rgba,
                               edgecolor="none"))
        ax.text(col + len(word) / 2, line + 0.5, word, ha="center", va="center_baseline",
                family="monospace", fontsize=size, color=_text_color(rgba))
    ax.set_xlim(-0.3, span_x - 0.3)
    ax.set_ylim(span_y - 0.1, -0.1)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=min(float(fontsize), 11.0))
    return fig


def _figure_of(ax):
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise TypeError(f"`ax` must be a matplotlib Axes, got {type(ax).__name__}.")
    return ax.figure


def _names(feature_names, n: int, default: str) -> list[str]:
    if feature_names is None:
        return [f"{default} {i}" for i in range(n)]
    if isinstance(feature_names, (str, bytes)):
        raise TypeError("`feature_names` must be a sequence of names, not one string.")
    names = [str(s) for s in feature_names]
    if len(names) != n:
        raise ValueError(f"`feature_names` has {len(names)} names for {n} features.")
    return names


def plot_series(
    series,
    attributions,
    ax=None,
    feature_names: Sequence[str] | None = None,
    cmap=None,
    signed: bool = True,
    *,
    vmax=None,
    alpha: float = 0.7,
    colorbar: bool = True,
    title: str | None = None,
) -> Figure:
    """Draws a time series with its attribution as a coloured band behind the line.

    The band is an image (`ax.images[0]`) one column per time step, spanning the x range
    `[-0.5, T - 0.5]` and the line's y range. Per-feature attributions `(T, F)` give one panel
    per feature; one attribution per step `(T,)` (e.g. a 1-D Grad-CAM map) gives one panel with
    every feature's line over the shared band. All bands share one colour scale.

    Args:
        series: The input, `(T,)` or `(T, F)` (one sample of a `(N, T, F)` batch).
        attributions: `(T,)` (one value per step) or `(T, F)` (one per step and feature),
            e.g. a row of `vis.explain` on the series model.
        ax: A matplotlib `Axes` (one panel), or one `Axes` per feature for `(T, F)`
            attributions. Defaults to `None` (a new figure).
        feature_names: One name per feature. Defaults to `None` (`"feature i"`).
        cmap: A colormap name or `Colormap`. Defaults to `None` (`"RdBu_r"` signed, `"Reds"`
            unsigned).
        signed: Whether the sign matters (see `attribution_colors`). Defaults to `True`.
        vmax: The magnitude of the colormap's ends. Defaults to `None` (the largest |value|).
        alpha: Opacity of the band. Defaults to `0.7`.
        colorbar: Add a colorbar (only to a figure this function creates). Defaults to `True`.
        title: Title of the top panel. Defaults to `None`.

    Returns:
        The matplotlib `Figure`.

    Raises:
        ValueError: Shapes that do not match (`attributions` must have the series' length, and
            its features or none), NaN values, the wrong number of `ax` or `feature_names`, or
            a bad `alpha` / `vmax`.
        TypeError: Values that are not numbers, or an `ax` that is not an `Axes`.

    Example:
        >>> ig = vis.explain(model, x, "integrated_gradients", y)         # (N, T, F)
        >>> fig = plot_series(x[0], ig[0], feature_names=["signal", "noise"])
        >>> cam = vis.explain(model, x, "gradcam", y)                     # (N, T)
        >>> fig = plot_series(x[0], cam[0], signed=False)
    """
    values = _values(series, "series", (1, 2))
    if values.ndim == 1:
        values = values[:, None]
    steps, features = values.shape
    attr = _values(attributions, "attributions", (1, 2))
    if attr.ndim == 2 and attr.shape[1] == 1:
        attr = attr[:, 0]
    if len(attr) != steps:
        raise ValueError(
            f"`attributions` covers {len(attr)} time steps but `series` has {steps}; give "
            "one sample's map (a row of the `(N, T, ...)` batch)."
        )
    if attr.ndim == 2 and attr.shape[1] != features:
        raise ValueError(
            f"`attributions` has {attr.shape[1]} features but `series` has {features}; give "
            "`(T,)` (one value per step) or `(T, F)`."
        )
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 <= alpha <= 1:
        raise ValueError(f"`alpha` must be a number in [0, 1], got {alpha!r}.")
    names = _names(feature_names, features, "feature")
    bands = attr[:, None] if attr.ndim == 1 else attr
    panels = bands.shape[1]
    created = ax is None
    if created:
        fig = Figure(figsize=(7.0, 0.6 + 1.5 * panels), layout="constrained")
        axes = list(fig.subplots(panels, 1, sharex=True, squeeze=False)[:, 0])
    else:
        axes = list(ax) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
        if len(axes) != panels:
            raise ValueError(
                f"`ax`: the attributions have {panels} band(s) (one per feature), got "
                f"{len(axes)} Axes; give {panels} Axes or `ax=None`."
            )
        fig = _figure_of(axes[0])
        for a in axes:
            _figure_of(a)
    signed = bool(signed)
    norm = _norm(bands if signed else np.abs(bands), signed, vmax)
    colormap = _cmap(cmap, signed)
    steps_x = np.arange(steps)
    image = None
    for p, panel in enumerate(axes):
        lines = values if attr.ndim == 1 else values[:, p:p + 1]
        low, high = float(lines.min()), float(lines.max())
        pad = 0.08 * (high - low) if high > low else 0.5
        band = bands[:, p] if signed else np.abs(bands[:, p])
        image = panel.imshow(band[None, :], cmap=colormap, norm=norm, alpha=float(alpha),
                             extent=(-0.5, steps - 0.5, low - pad, high + pad), aspect="auto",
                             interpolation="nearest", origin="lower", zorder=0)
        for f in range(lines.shape[1]):
            k = f if attr.ndim == 1 else p
            color = "k" if lines.shape[1] == 1 else f"C{f}"
            panel.plot(steps_x, lines[:, f], color=color, lw=1.3, zorder=2, label=names[k])
        panel.set_xlim(-0.5, steps - 0.5)
        panel.set_ylim(low - pad, high + pad)
        if attr.ndim == 2 or features == 1:
            panel.set_ylabel(names[p], fontsize=9)
        elif features > 1:
            panel.legend(loc="upper right", fontsize=8)
    spec = axes[-1].get_subplotspec()
    if spec is None or spec.is_last_row():  # not between panels of the caller's grid
        axes[-1].set_xlabel("time step")
    if title:
        axes[0].set_title(title, fontsize=10)
    if created and colorbar:
        fig.colorbar(image, ax=axes, label="attribution" if signed else "|attribution|",
                     fraction=0.04, pad=0.01)
    return fig


def plot_features(
    attributions,
    feature_names: Sequence[str] | None = None,
    ax=None,
    top: int | None = None,
    *,
    colors: tuple[str, str] = ("#2166ac", "#b2182b"),
    title: str | None = None,
) -> Figure:
    """A horizontal bar chart of per-feature attributions, sorted by |value|.

    For tabular inputs: one bar per feature (`ax.patches`, largest |value| at the top), its
    length the signed attribution, blue for negative and red for positive values (the ends of
    `"RdBu_r"`), the value printed at the bar's end.

    Args:
        attributions: One sample's map `(F,)` (for a batch, pass a row, or e.g.
            `np.abs(maps).mean(0)` for the mean magnitude).
        feature_names: One name per feature. Defaults to `None` (`"x0"`, `"x1"`, ...).
        ax: A matplotlib `Axes` to draw on. Defaults to `None` (a new figure).
        top: Show only the `top` features of largest |value|. Defaults to `None` (all).
        colors: Colours of negative and positive bars. Defaults to
            `("#2166ac", "#b2182b")`.
        title: Axes title. Defaults to `None`.

    Returns:
        The matplotlib `Figure`.

    Raises:
        ValueError: `attributions` that is not one `(F,)` map, NaN values, a number of
            `feature_names` that differs from the number of values, or a bad `top`.
        TypeError: Values that are not numbers, or an `ax` that is not an `Axes`.

    Example:
        >>> image_map, meta_map = vis.explain(model, [images, meta], "ig", output="reg_head")
        >>> fig = plot_features(meta_map[0], ["age", "dose", "noise"], top=2)
    """
    try:
        values = np.asarray(attributions, dtype="float64")
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`attributions` must be an array of numbers: {exc}") from None
    if values.ndim != 1:
        raise ValueError(
            f"`attributions` must be one sample's map of shape (F,), got {values.shape}; for a "
            "batch pass a row, or a summary such as `np.abs(maps).mean(0)`."
        )
    values = _values(values, "attributions")
    names = [f"x{i}" for i in range(len(values))] if feature_names is None else _names(
        feature_names, len(values), "x")
    if top is None:
        top = len(values)
    elif isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
        raise ValueError(f"`top` must be a positive int or None, got {top!r}.")
    order = np.argsort(-np.abs(values), kind="stable")[: int(top)]
    shown = values[order]
    created = ax is None
    if created:
        fig = Figure(figsize=(5.0, 0.6 + 0.32 * len(order)))
        ax = fig.add_subplot()
    else:
        fig = _figure_of(ax)
    bars = ax.barh(np.arange(len(order)), shown, height=0.7,
                   color=[colors[1] if v > 0 else colors[0] for v in shown])
    ax.set_yticks(np.arange(len(order)), labels=[names[i] for i in order], fontsize=9)
    ax.set_ylim(len(order) - 0.5, -0.5)  # the largest |value| at the top
    ax.axvline(0.0, color="0.3", lw=0.8)
    ax.bar_label(bars, labels=[f"{v:+.3g}" for v in shown], padding=3, fontsize=8)
    span = float(np.abs(shown).max()) or 1.0
    ax.set_xlim(min(0.0, shown.min()) - 0.3 * span, max(0.0, shown.max()) + 0.3 * span)
    ax.set_xlabel("attribution")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title, fontsize=10)
    if created:
        fig.tight_layout()
    return fig
