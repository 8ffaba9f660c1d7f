"""The `vis demo` pipeline: train a digits CNN, explain it with every method, write a report.

Everything runs on scikit-learn's bundled 8x8 digits (no download). `run_demo(out)` writes into
`out/`:

- `methods.png`: every registered attribution method on several test digits,
- `signal_quality.png`: PatternNet's signal-estimator quality rho(S) per layer and estimator,
- `pss_profile.png`, `pss_input.png`: parameter-space saliency of a misclassified digit,
- `sanity_curves.png`, `sanity_maps.png`: cascading model randomization of several methods,
- `evaluation.png`: `vis.evaluate` of every default method against the `random` control,
- `summary.md`: the figures and the numbers (accuracy, rho(S), PSS switch-off, similarities,
  the evaluation table).

Every method comes from the `vis.methods` registry (`METHODS`: all of them, a method registered
by the user included). The functions that compute and draw the maps (`method_maps`,
`plot_method_grid`) are reused by `docs/make_figures.py` and the notebooks.
"""

from __future__ import annotations

import os
import re
import sys
import textwrap
import time
from collections.abc import Sequence

import numpy as np

# `METHODS` is computed on access (the module's `__getattr__`): the methods registered now.
__all__ = ["METHODS", "run_demo", "method_maps", "plot_method_grid", "pick_examples",  # noqa: F822
           "label", "evaluation_metrics", "FAST_METRIC_OPTIONS"]

# `--fast`: the options that make `vis.evaluate`'s default metrics cheaper (fewer curve steps,
# fewer noise samples); the metrics themselves stay those of `vis.evaluate`.
FAST_METRIC_OPTIONS = {
    "deletion": {"steps": 16}, "insertion": {"steps": 16}, "pixel_flipping": {"steps": 16},
    "faithfulness_correlation": {"samples": 20}, "infidelity": {"samples": 10},
    "max_sensitivity": {"samples": 3}, "avg_sensitivity": {"samples": 3},
}


def __getattr__(name: str):
    if name == "METHODS":
        return _registered()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _registered() -> tuple[str, ...]:
    """Every registered method, in the order of `vis.methods.table()` (family, then name)."""
    from vis import methods

    return tuple(row["name"] for row in methods.table())


def label(name: str) -> str:
    """A short column title for a method: its canonical name, words wrapped on two lines.

    Args:
        name: A registered name or alias (or any other title, returned as it is).

    Returns:
        The title, e.g. `"integrated\\ngradients"` for `"ig"`.

    Example:
        >>> label("lrp")
        'lrp epsilon'
    """
    from vis import methods

    if name not in methods.REGISTRY:
        return name
    return textwrap.fill(methods.get(name).name.replace("_", " "), 12, break_long_words=False)


class _Progress:
    """Prints `[i/n] step ... done (seconds)` lines to stderr."""

    def __init__(self, total: int, verbose: bool):
        self.total, self.verbose, self.i = total, verbose, 0
        self.t0 = self.start = time.perf_counter()

    def step(self, text: str) -> None:
        self.i += 1
        self.t0 = time.perf_counter()
        if self.verbose:
            print(f"[{self.i}/{self.total}] {text} ...", file=sys.stderr, flush=True)

    def done(self, text: str = "") -> float:
        dt = time.perf_counter() - self.t0
        if self.verbose:
            extra = f" {text}" if text else ""
            print(f"      done in {dt:.1f} s{extra}", file=sys.stderr, flush=True)
        return dt


# --- maps ----------------------------------------------------------------------------------------


def _signed(maps: np.ndarray) -> np.ndarray:
    """Sums channels and scales each map by its largest magnitude to [-1, 1]."""
    m = np.asarray(maps, dtype="float64")
    if m.ndim == 4:
        m = m.sum(axis=-1)
    peak = np.abs(m).max(axis=(1, 2), keepdims=True)
    return np.where(peak > 0, m / np.where(peak > 0, peak, 1.0), 0.0)


def _magnitude(maps: np.ndarray) -> np.ndarray:
    from vis.utils.image import normalize

    m = np.abs(np.asarray(maps, dtype="float64"))
    if m.ndim == 4:
        m = m.max(axis=-1)
    return normalize(m, batch=True)


def _is_signed(name: str, maps: np.ndarray) -> bool:
    """A registered method's `signed`; for other maps, whether they hold negative values."""
    from vis import methods

    if name in methods.REGISTRY:
        return methods.get(name).signed
    return bool(np.any(np.asarray(maps) < 0))


def method_maps(
    model,
    x: np.ndarray,
    y: np.ndarray,
    methods: Sequence[str] | None = None,
    patterns=None,
    seed: int = 0,
    smoothgrad_samples: int = 50,
    ig_steps: int = 64,
    fit_data: np.ndarray | None = None,
    fitted: dict | None = None,
) -> dict[str, np.ndarray]:
    """Computes display-ready maps `(N, H, W)` of registered methods for a digits-like model.

    Each map is `vis.explain`'s raw map of the class `y[i]`, drawn from the method's record:
    signed methods (`Method.signed`) are summed over channels and scaled by their largest
    magnitude to [-1, 1]; the others (the Grad-CAM maps) are min-max scaled to [0, 1]. Each
    method gets those of the options `seed`, `samples` (`smoothgrad_samples`) and `steps`
    (`ig_steps`) that it takes; methods that learn from data (`Method.fit`, `Method.requires`)
    get the options they require from `fitted` (or `patterns`) when given, else are fitted with
    `Method.fit` on `fit_data` (one fit per fit function: PatternNet and PatternAttribution share
    theirs).

    Args:
        model: A Keras image classifier (ending in softmax or logits). Never modified.
        x: Images `(N, H, W, C)`.
        y: The class explained for each image, `(N,)`.
        methods: Registered names or aliases; the result is keyed by these spellings. Defaults
            to `None` (`METHODS`: every registered method).
        patterns: Fitted `vis.pattern` patterns for the methods that require `patterns`.
            Defaults to `None` (fitted on `fit_data`).
        seed: Seed of the methods' noise (SmoothGrad, the random control). Defaults to `0`.
        smoothgrad_samples: Noise samples of the methods with a `samples` option. Defaults to
            `50`.
        ig_steps: Path steps of the methods with a `steps` option (Integrated Gradients).
            Defaults to `64`.
        fit_data: The data the methods that learn from data are fitted on. Defaults to `None`
            (`x` itself).
        fitted: Options already fitted (e.g. `{"patterns": ...}`, see `Method.fit`), given to
            the methods that require them. Defaults to `None`.

    Returns:
        A dict `method -> (N, H, W)` array, in the order of `methods`.

    Raises:
        ValueError: If a method name is unknown, or a method needs options that it cannot fit.

    Example:
        >>> maps = method_maps(model, x_test[:4], y_test[:4], methods=("gradient", "gradcam"))
        >>> maps["gradcam"].shape
        (4, 8, 8)
    """
    import vis
    from vis import methods as registry

    names = list(_registered() if methods is None else methods)
    unknown = [m for m in names if m not in registry.REGISTRY]
    if unknown:
        raise ValueError(
            f"`methods`: unknown {unknown}; valid: {registry.names(aliases=True)}."
        )
    offered = {"seed": seed, "samples": smoothgrad_samples, "steps": ig_steps}
    given = dict(fitted or {})
    if patterns is not None:
        given["patterns"] = patterns
    fits: dict = {}
    out: dict[str, np.ndarray] = {}
    for name in names:
        method = registry.get(name)
        takes = method.options()
        options = {k: v for k, v in offered.items() if k in takes}
        options.update(_fitted(method, model, x if fit_data is None else fit_data, given, fits))
        m = vis.explain(model, x, method, np.asarray(y), **options)
        out[name] = _signed(m) if method.signed else _magnitude(m)
    return out


def _fit_all(model, data: np.ndarray, names: Sequence[str]) -> dict:
    """The options that the methods `names` learn from `data` (`Method.fit`, once per fit)."""
    from vis import methods as registry

    fits: dict = {}
    options: dict = {}
    for name in names:
        options.update(_fitted(registry.get(name), model, data, {}, fits))
    return options


def _fitted(method, model, data, given: dict, fits: dict) -> dict:
    """The options `method.requires`: given ones, else `method.fit` (cached per fit function)."""
    if not method.requires:
        return {}
    if all(k in given for k in method.requires):
        return {k: given[k] for k in method.requires}
    if method.fit is None:
        raise ValueError(
            f"`methods`: {method.name!r} needs {list(method.requires)} and has no `fit`."
        )
    if method.fit not in fits:
        fits[method.fit] = method.fit(model, data)
    return {k: fits[method.fit][k] for k in method.requires}


def plot_method_grid(
    x: np.ndarray,
    maps: dict[str, np.ndarray],
    row_labels: Sequence[str] | None = None,
    title: str | None = None,
):
    """Draws one row per image: the image, then one column per method.

    Signed maps (of a method whose record says `signed`, or, for other names, maps with negative
    values) are drawn in `bwr` on [-1, 1], the others in `inferno` on [0, 1]; each column is
    titled `label(name)`.

    Args:
        x: Images `(N, H, W, C)` (or `(N, H, W)`).
        maps: `method -> (N, H, W)` maps, as returned by `method_maps`.
        row_labels: A label per image (e.g. `"y=3 p=0.98"`). Defaults to `None`.
        title: Figure title. Defaults to `None`.

    Returns:
        The matplotlib `Figure`.

    Example:
        >>> fig = plot_method_grid(x, method_maps(model, x, y), [f"y={k}" for k in y])
    """
    import matplotlib.pyplot as plt

    images = np.asarray(x, dtype="float32")
    if images.ndim == 4:
        images = images[..., 0] if images.shape[-1] == 1 else images
    n, cols = len(images), len(maps) + 1
    signed = {name: _is_signed(name, m) for name, m in maps.items()}
    # Constrained layout reserves room for the suptitle above the column titles.
    fig, axes = plt.subplots(n, cols, figsize=(1.15 * cols, 1.2 * n + (0.45 if title else 0.2)),
                             squeeze=False, layout="constrained")
    fig.get_layout_engine().set(w_pad=0.02, h_pad=0.02, wspace=0.02, hspace=0.02)
    for i in range(n):
        axes[i, 0].imshow(images[i], cmap="gray", interpolation="nearest")
        if row_labels is not None:
            axes[i, 0].set_ylabel(row_labels[i], fontsize=7)
        for j, (name, m) in enumerate(maps.items(), start=1):
            if signed[name]:
                axes[i, j].imshow(m[i], cmap="bwr", vmin=-1, vmax=1, interpolation="nearest")
            else:
                axes[i, j].imshow(m[i], cmap="inferno", vmin=0, vmax=1, interpolation="nearest")
    for j, name in enumerate(["input", *maps], start=0):
        axes[0, j].set_title(label(name), fontsize=7)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def pick_examples(model, x: np.ndarray, y: np.ndarray, n: int) -> np.ndarray:
    """Indices of `n` correctly classified images of distinct classes (first occurrences).

    The model's predictions on `x` are compared with `y`; the first correctly classified image
    of each class is taken, in the order of `x`, until `n` are found.

    Args:
        model: A Keras classifier (its top class is `argmax` of its output). Never modified.
        x: Images `(N, H, W, C)`.
        y: Class indices `(N,)`.
        n: How many images to pick.

    Returns:
        An int64 index array into `x`, of length `min(n, number of distinct correctly
        classified classes)`.

    Example:
        >>> idx = pick_examples(model, x_test, y_test, 4)
    """
    pred = model.predict(x, verbose=0).argmax(-1)
    chosen, seen = [], set()
    for i in np.flatnonzero(pred == y):
        if int(y[i]) not in seen:
            seen.add(int(y[i]))
            chosen.append(i)
        if len(chosen) == n:
            break
    return np.asarray(chosen, dtype="int64")


# --- the pipeline --------------------------------------------------------------------------------


def _save(fig, out: str, name: str) -> str:
    import matplotlib.pyplot as plt

    path = os.path.join(out, name)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return name


def run_demo(out: str = "demo_out", fast: bool = False, seed: int = 0,
             verbose: bool = True) -> dict:
    """Trains the digits CNN, explains it with every method and writes figures and `summary.md`.

    Args:
        out: Output folder (created). Defaults to `"demo_out"`.
        fast: Train less and use fewer images, samples and metric steps (for CI, ~35 s).
            Defaults to `False`.
        seed: Seed of training, noise, randomization and draws. Defaults to `0`.
        verbose: Print progress to stderr. Defaults to `True`.

    Returns:
        The measured numbers (also written to `summary.md`): `accuracy`, `signal_quality`,
        `pss`, `sanity`, `seconds`, `files`.

    Example:
        >>> numbers = run_demo("demo_out", fast=True)  # doctest: +SKIP
        >>> numbers["accuracy"] > 0.9
        True
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from vis import methods as registry

    os.makedirs(out, exist_ok=True)
    cfg = dict(epochs=10, n_images=4, samples=16, steps=32, pss_fit=400, draws=10, sanity_n=8, rho_n=600,
               estimators=("filter", "two_component"),
               sanity_methods=registry.SANITY_DEFAULTS, eval_n=32,
               eval_metrics=evaluation_metrics(fast=True)) if fast else \
        dict(epochs=15, n_images=6, samples=50, steps=64, pss_fit=None, draws=30, sanity_n=24, rho_n=None,
             estimators=("filter", "linear", "two_component"),
             sanity_methods=registry.SANITY_EXTENDED, eval_n=32,
             eval_metrics=evaluation_metrics(fast=False))
    names = _registered()
    learning = [n for n in names if registry.get(n).fit is not None]
    progress = _Progress(7, verbose)
    t_start = time.perf_counter()
    numbers: dict = {"fast": fast, "seed": seed, "files": []}

    progress.step(f"training the digits CNN ({cfg['epochs']} epochs)")
    from vis.utils.digits import train_digits_cnn

    model, (x_train, y_train), (x_test, y_test) = train_digits_cnn(epochs=cfg["epochs"], seed=seed)
    probs = model.predict(x_test, verbose=0)
    numbers["accuracy"] = float((probs.argmax(-1) == y_test).mean())
    numbers["n_train"], numbers["n_test"] = int(len(y_train)), int(len(y_test))
    progress.done(f"test accuracy {numbers['accuracy']:.1%}")

    progress.step(f"fitting {', '.join(learning) or 'no method'} on the training digits and "
                  "measuring signal quality rho(S)")
    from vis import pattern

    fitted = _fit_all(model, x_train, learning)
    x_rho = x_train[: cfg["rho_n"] or len(x_train)]
    quality = {
        est: {k: float(v) for k, v in pattern.signal_quality(
            model, x_rho, estimator=est, verbose=False).items()}
        for est in cfg["estimators"]
    }
    numbers["signal_quality"] = quality
    numbers["files"].append(_save(_plot_quality(quality), out, "signal_quality.png"))
    progress.done()

    progress.step(f"computing {len(names)} methods on {cfg['n_images']} digits")
    idx = pick_examples(model, x_test, y_test, cfg["n_images"])
    x, y = x_test[idx], y_test[idx]
    maps = method_maps(model, x, y, names, seed=seed, smoothgrad_samples=cfg["samples"],
                       ig_steps=cfg["steps"], fitted=fitted)
    numbers["methods"] = {name: registry.get(name).signed for name in names}
    numbers["fitted"] = learning
    labels = [f"y={k} p={probs[i, k]:.2f}" for i, k in zip(idx, y)]
    fig = plot_method_grid(x, maps, labels, title="Explanations of the true class")
    numbers["files"].append(_save(fig, out, "methods.png"))
    progress.done()

    progress.step("parameter-space saliency of the worst-classified test digit")
    numbers["pss"] = _pss_section(model, x_train, y_train, x_test, y_test, probs, cfg, seed, out,
                                  numbers["files"])
    progress.done()

    progress.step(f"sanity checks: cascading randomization of {', '.join(cfg['sanity_methods'])}")
    numbers["sanity"] = _sanity_section(model, x_test, y_test, cfg, seed, out, numbers["files"])
    progress.done()

    progress.step(f"evaluating every default method against random on {cfg['eval_n']} test "
                  "digits")
    numbers["evaluation"] = _evaluation_section(model, x_train, x_test, y_test, cfg, seed, out,
                                                numbers["files"], fitted)
    progress.done()

    progress.step("writing summary.md")
    numbers["seconds"] = time.perf_counter() - t_start
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(_summary(numbers, cfg))
    numbers["files"].append("summary.md")
    progress.done(f"-> {os.path.join(out, 'summary.md')} (total {numbers['seconds']:.0f} s)")
    return numbers


def _plot_quality(quality: dict):
    from matplotlib.figure import Figure

    from vis.pattern import plot_signal_quality

    fig = Figure(figsize=(5, 3.2), layout="constrained")
    ax = plot_signal_quality(quality, ax=fig.add_subplot())
    ax.set_title("Signal-estimator quality rho(S) per layer (held out)", fontsize=9)
    return fig


def _pss_section(model, x_train, y_train, x_test, y_test, probs, cfg, seed, out, files) -> dict:
    from vis.pss import ParameterSaliency, plot_input_saliency, plot_profile, switch_off_experiment

    n_fit = cfg["pss_fit"] or len(x_train)
    pss = ParameterSaliency(model).fit(x_train[:n_fit], y_train[:n_fit], verbose=False)
    pred = probs.argmax(-1)
    wrong = np.flatnonzero(pred != y_test)
    right = np.flatnonzero(pred == y_test)
    # The misclassified digit with the lowest true-class probability; when every test digit is
    # classified correctly, the correct one with the lowest true-class probability (and the
    # figures and summary say so).
    pool = wrong if len(wrong) else np.arange(len(y_test))
    i = int(pool[np.argmin(probs[pool, y_test[pool]])])
    x1, y1 = x_test[i : i + 1], y_test[i : i + 1]
    profile = np.asarray(pss.profile(x1, y1))[0]
    mean_wrong = float(np.asarray(pss.profile(x_test[wrong], y_test[wrong])).mean()) \
        if len(wrong) else float("nan")
    sub = right[: max(len(wrong), 32)]
    mean_right = float(np.asarray(pss.profile(x_test[sub], y_test[sub])).mean())
    if len(wrong):
        title = f"digit {int(y1[0])} predicted as {int(pred[i])}: standardized filter saliency"
    else:
        title = (f"digit {int(y1[0])} (no test digit is misclassified; the least confident "
                 "one): standardized filter saliency")
    files.append(_save(plot_profile(profile, pss.filters, title=title), out, "pss_profile.png"))
    saliency = np.asarray(pss.input_saliency(x1, y1))[0]
    fig = plot_input_saliency(x1[0], saliency, title="pixels driving the salient filters")
    files.append(_save(fig, out, "pss_input.png"))
    k = 10
    switch = None
    if len(wrong):
        switch = switch_off_experiment(model, pss, x_test[wrong], y_test[wrong], k=k,
                                       n_random=cfg["draws"], seed=seed,
                                       misclassified_only=False)
    top = [pss.filters[j] for j in np.asarray(pss.top_filters(x1, y1, k=5))[0]]

    def mean(name):
        return None if switch is None else float(getattr(switch, name).mean())

    return {
        "index": i, "label": int(y1[0]), "predicted": int(pred[i]),
        "p_true": float(probs[i, y1[0]]), "p_pred": float(probs[i, pred[i]]),
        "n_misclassified": int(len(wrong)), "mean_profile_wrong": mean_wrong,
        "mean_profile_right": mean_right, "mean_profile_digit": float(profile.mean()),
        "top_filters": [f"{a}:{b}" for a, b in top],
        "k": k, "n_studied": int(len(wrong)), "n_random": int(cfg["draws"]),
        "p_before": mean("p_before"), "p_top": mean("p_top"), "p_random": mean("p_random"),
        "fixed_top": mean("fixed_top"), "fixed_random": mean("fixed_random"),
    }


def _sanity_section(model, x_test, y_test, cfg, seed, out, files) -> dict:
    from vis.sanity import model_randomization_test

    n = cfg["sanity_n"]
    x, y = x_test[:n], y_test[:n]
    results = {}
    for method in cfg["sanity_methods"]:
        results[method] = model_randomization_test(
            model, x, y, method, mode="cascading", seed=seed, verbose=False
        )
    # One figure of curves (every method, signed Spearman and SSIM) ...
    from matplotlib.figure import Figure

    from vis.sanity import plot_comparison

    fig = Figure(figsize=(10, 3.4), layout="constrained")
    for ax, metric in zip(fig.subplots(1, 2), ("spearman", "ssim")):
        plot_comparison(results, metric=metric, ax=ax)
    fig.suptitle("Cascading randomization (top layer first): similarity to the trained model's "
                 "maps", fontsize=9)
    files.append(_save(fig, out, "sanity_curves.png"))
    # ... and the map grid of each method as the layers are randomized.
    files.append(_save(_sanity_grid(results, x[:2]), out, "sanity_maps.png"))
    summary = {}
    for method, r in results.items():
        table = r.table()
        summary[method] = {
            "steps": list(r.steps),
            "accuracy": [r.accuracy.get(step) for step in r.steps],
            **{m: [table[step][m][0] for step in r.steps] for m in r.scores},
        }
    return summary


def evaluation_metrics(fast: bool = False) -> list[dict]:
    """The metrics of the demo's evaluation: `vis.evaluate`'s defaults, cheaper with `fast`.

    Args:
        fast: Apply `FAST_METRIC_OPTIONS` (fewer curve steps and noise samples). Defaults to
            `False` (each metric's own defaults).

    Returns:
        `{"name": ..., **options}` specs, in the order of `vis.evaluate`'s default metrics.

    Example:
        >>> evaluation_metrics(fast=True)[0]
        {'name': 'deletion', 'steps': 16}
    """
    from vis._evaluate import default_metrics

    return [{"name": name, **(FAST_METRIC_OPTIONS.get(name, {}) if fast else {})}
            for name in default_metrics()]


# vis.errors.ZeroMapWarning's message: the method and the samples whose maps are all zero.
_ZERO_MAP = re.compile(r"Method '([^']+)' gave an all-zero map for sample\(s\) \[([^\]]*)\]")


def _evaluation_section(model, x_train, x_test, y_test, cfg, seed, out, files,
                        fitted: dict | None = None) -> dict:
    """`vis.evaluate` of the default methods (and `random`) on the first test digits.

    The methods explain each digit's true class, with the figure's `steps` / `samples`;
    the methods that learn from data use the options fitted on the training digits (`fitted`),
    or are fitted on them. All-zero maps (a Grad-CAM zeroed by its ReLU) are counted in the
    summary instead of being warned about.
    """
    import warnings

    import vis
    from vis import methods as registry
    from vis._evaluate import default_methods
    from vis.errors import ZeroMapWarning

    n = cfg["eval_n"]
    names = default_methods()
    given = fitted or {}
    method_options = {name: {k: given[k] for k in registry.get(name).requires}
                      for name in names
                      if registry.get(name).requires
                      and all(k in given for k in registry.get(name).requires)}
    offered = {"steps": cfg["steps"], "samples": cfg["samples"]}
    options = {k: v for k, v in offered.items()
               if any(k in registry.get(name).options() for name in names)}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ZeroMapWarning)
        report = vis.evaluate(model, x_test[:n], y_test[:n], methods=names,
                              metrics=cfg["eval_metrics"], seed=seed, fit_inputs=x_train,
                              method_options=method_options, **options)
    for w in caught:  # anything else is warned as usual
        if not issubclass(w.category, ZeroMapWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    fig = report.plot()
    files.append(_save(fig, out, "evaluation.png"))
    zero: dict[str, int] = {}
    for w in caught:
        found = _ZERO_MAP.match(str(w.message)) if issubclass(w.category, ZeroMapWarning) \
            else None
        if found:
            zero[found.group(1)] = len(found.group(2).split(","))
    return {
        "n": report.n,
        "methods": list(report.methods), "metrics": list(cfg["eval_metrics"]),
        "markdown": report.to_markdown(), "scores": report.scores,
        "deletion_ranking": report.ranking("deletion") if "deletion" in report.metrics else [],
        "control": report.control, "errors": dict(report.errors), "zero_maps": zero,
        "options": options,
    }


def _sanity_grid(results: dict, x: np.ndarray):
    import matplotlib.pyplot as plt

    first = next(iter(results.values()))
    cols = ["original", *first.steps]
    rows = [(method, i) for method in results for i in range(len(x))]
    fig, axes = plt.subplots(len(rows), len(cols) + 1,
                             figsize=(1.05 * (len(cols) + 1), 1.1 * len(rows)), squeeze=False)
    for r, (method, i) in enumerate(rows):
        axes[r, 0].imshow(np.asarray(x[i])[..., 0], cmap="gray", interpolation="nearest")
        axes[r, 0].set_ylabel(f"{method}", fontsize=6)
        for c, step in enumerate(cols, start=1):
            m = np.abs(np.asarray(results[method].maps[step])[i])
            if m.ndim == 3:
                m = m.sum(axis=-1)
            axes[r, c].imshow(m, cmap="inferno", interpolation="nearest")
    for c, step in enumerate(["input", *cols]):
        axes[0, c].set_title(step if c < 2 else f"+{step}", fontsize=6)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout(pad=0.2)
    return fig


def _fmt(v) -> str:
    return f"{v:.3f}" if v is not None and np.isfinite(v) else "n/a"


def _summary(numbers: dict, cfg: dict) -> str:
    lines = [
        "# vis demo: explaining a digits CNN",
        "",
        f"Settings: {'fast' if numbers['fast'] else 'full'} (seed {numbers['seed']}, "
        f"{cfg['epochs']} epochs); run time {numbers['seconds']:.0f} s.",
        "",
        f"**Test accuracy:** {numbers['accuracy']:.2%} (scikit-learn digits, "
        f"{numbers['n_test']} test images; trained on {numbers['n_train']}).",
        "",
        "## Every method on the same digits",
        "",
        "![methods](methods.png)",
        "",
        _methods_note(numbers),
        "",
        "## PatternNet: signal-estimator quality rho(S) per layer (held-out data)",
        "",
        "![signal quality](signal_quality.png)",
        "",
    ]
    quality = numbers["signal_quality"]
    layers = list(next(iter(quality.values())))
    lines.append("| estimator | " + " | ".join(layers) + " |")
    lines.append("|---|" + "---|" * len(layers))
    for est, values in quality.items():
        lines.append(f"| {est} | " + " | ".join(_fmt(values[k]) for k in layers) + " |")
    p = numbers["pss"]
    lines += [
        "",
        *_pss_summary(p),
        "## Sanity checks: cascading model randomization",
        "",
        "![sanity curves](sanity_curves.png)",
        "",
        "![sanity maps](sanity_maps.png)",
        "",
        "Mean similarity between the trained model's map and the map after randomizing the "
        "layers down to each step (1 = unchanged; a method that explains the model should drop).",
        "",
    ]
    for method, s in numbers["sanity"].items():
        lines.append(f"### {method}")
        lines.append("")
        lines.append("| metric | " + " | ".join(f"+{k}" for k in s["steps"]) + " |")
        lines.append("|---|" + "---|" * len(s["steps"]))
        for metric in ("spearman_abs", "spearman", "ssim", "hog", "accuracy"):
            if metric in s:
                lines.append(f"| {metric} | " + " | ".join(_fmt(v) for v in s[metric]) + " |")
        lines.append("")
    if "evaluation" in numbers:
        lines += _evaluation_summary(numbers["evaluation"])
    return "\n".join(lines) + "\n"


def _evaluation_summary(e: dict) -> list[str]:
    """The evaluation section of `summary.md`: what was measured, the table, the ranking."""
    settings = ", ".join(
        f"{spec['name']} ({', '.join(f'{k}={v}' for k, v in spec.items() if k != 'name')})"
        if len(spec) > 1 else spec["name"] for spec in e["metrics"])
    lines = [
        "## Evaluation: which method is faithful to this model?",
        "",
        "![evaluation](evaluation.png)",
        "",
        f"`vis.evaluate` of every default method (the gradient, CAM and propagation families) "
        f"against the `{e['control']}` control, on the first {e['n']} test digits, each "
        f"explained for its true class{_options_text(e['options'])}. Metrics: {settings}. "
        "Deletion (lower is better) is the "
        "area under the true-class probability as the most relevant pixels are removed first: "
        "a map that finds the evidence makes it fall fast; a method that does no better than "
        "random noise explains nothing.",
        "",
        e["markdown"].rstrip("\n"),
        "",
    ]
    order = e["deletion_ranking"]
    if order:
        scores = e["scores"]
        where = (f"; the {e['control']} control ranks {order.index(e['control']) + 1} of "
                 f"{len(order)} ({_fmt(scores[e['control']]['deletion'])})"
                 if e["control"] in order else "")
        best = ", ".join(f"{m} ({_fmt(scores[m]['deletion'])})" for m in order[:3])
        lines += [f"Best on deletion: {best}{where}.", ""]
    if e["zero_maps"]:
        counts = ", ".join(f"{m} ({k} of {e['n']} digits)" for m, k in e["zero_maps"].items())
        lines += [f"All-zero maps (scored as they are): {counts}.", ""]
    return lines


def _options_text(options: dict) -> str:
    if not options:
        return ""
    return " (methods' options as in the figure above: " + ", ".join(
        f"{k}={v}" for k, v in options.items()) + ")"


def _methods_note(numbers: dict) -> str:
    """What the methods figure shows, from the registry's records of its methods."""
    signed = [name for name, is_signed in numbers["methods"].items() if is_signed]
    unsigned = [name for name, is_signed in numbers["methods"].items() if not is_signed]
    parts = []
    if signed:
        parts.append(f"Signed maps (blue negative, red positive, each scaled by its largest "
                     f"magnitude) for {', '.join(signed)}")
    if unsigned:
        parts.append(f"non-negative maps (inferno, min-max scaled) for {', '.join(unsigned)}")
    note = "; ".join(parts) + ". All explain the true class's pre-softmax logit."
    if numbers["fitted"]:
        note += f" {', '.join(numbers['fitted'])}: fitted on the training digits."
    return note[0].upper() + note[1:]


def _pss_summary(p: dict) -> list[str]:
    """The PSS section of `summary.md` (honest when no test digit is misclassified)."""
    figures = "![PSS profile](pss_profile.png) ![PSS input saliency](pss_input.png)"
    top = f"Most salient filters: {', '.join(p['top_filters'])}."
    if not p["n_misclassified"]:
        return [
            "## Parameter-space saliency of the least confident test digit",
            "",
            f"No test digit is misclassified, so the figures show the correctly classified "
            f"digit with the lowest true-class probability: test digit #{p['index']}, label "
            f"{p['label']} (p = {p['p_true']:.3f}). Its mean standardized filter saliency is "
            f"{_fmt(p['mean_profile_digit'])}, against {_fmt(p['mean_profile_right'])} on "
            "average for correctly classified digits.",
            "",
            figures,
            "",
            top,
            "",
            "Switch-off experiment: skipped (it studies misclassified digits, and there are "
            "none).",
            "",
        ]
    return [
        "## Parameter-space saliency of a misclassified digit",
        "",
        f"Test digit #{p['index']}: label {p['label']}, predicted {p['predicted']} "
        f"(p = {p['p_pred']:.2f}; true-class p = {p['p_true']:.3f}). "
        f"{p['n_misclassified']} test digits are misclassified; their mean standardized filter "
        f"saliency is {_fmt(p['mean_profile_wrong'])}, against {_fmt(p['mean_profile_right'])} "
        "for correctly classified ones.",
        "",
        figures,
        "",
        top,
        "",
        f"Switch-off experiment on the {p['n_studied']} misclassified test digits: zeroing each "
        f"digit's top {p['k']} salient filters moves the mean true-class probability from "
        f"{p['p_before']:.3f} to **{p['p_top']:.3f}** and corrects {p['fixed_top']:.0%} of them; "
        f"zeroing {p['k']} random filters ({p['n_random']} draws each) gives "
        f"{p['p_random']:.3f} and corrects {p['fixed_random']:.0%}.",
        "",
    ]
