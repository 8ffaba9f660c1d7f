"""The figure of a `Report`: curves per method above a rank heat-map of every metric."""

from __future__ import annotations

import numpy as np

from vis.metrics.report import _fmt


def plot_report(report, curves=None):
    """See `Report.plot`."""
    from matplotlib.figure import Figure

    available = [k for k in report.metrics
                 if any(k in report.curves.get(m, {}) for m in report.methods)]
    if curves is None:
        curves = available
    unknown = [k for k in curves if k not in available]
    if unknown:
        raise ValueError(f"`curves` {unknown} are not curve metrics of this report; it has "
                         f"{available}.")
    rows = len(report.methods)
    width = max(7.0, 1.1 * len(report.metrics) + 2.5, 4.0 * max(1, len(curves)))
    height = 0.42 * rows + 1.6 + (3.2 if curves else 0.0)
    fig = Figure(figsize=(width, height), layout="constrained")
    if curves:
        grid = fig.add_gridspec(2, len(curves), height_ratios=[3.2, 0.42 * rows + 1.6])
        for j, k in enumerate(curves):
            _plot_curves(fig.add_subplot(grid[0, j]), report, k, legend=j == 0)
        ax = fig.add_subplot(grid[1, :])
    else:
        ax = fig.add_subplot()
    _plot_heatmap(ax, report)
    return fig


def _plot_curves(ax, report, metric: str, legend: bool) -> None:
    import matplotlib

    palette = matplotlib.colormaps["tab20"].colors
    colors = iter(palette[0::2] + palette[1::2])
    for m in report.methods:
        curve = report.curves.get(m, {}).get(metric)
        if curve is None:
            continue
        if m == report.control:
            curve.plot(ax=ax, label=f"{m} (control)", band=False, color="black",
                       linestyle="--", linewidth=1.5)
        else:
            curve.plot(ax=ax, label=m, band=False, color=next(colors), linewidth=1.2)
    arrow = "↑" if report.higher_is_better[metric] else "↓"
    ax.set_title(f"{metric} {arrow}", fontsize="medium")
    if legend:
        ax.legend(fontsize="x-small", ncol=1 if len(report.methods) < 8 else 2)
    else:
        ax.get_legend().remove()


def _plot_heatmap(ax, report) -> None:
    import matplotlib

    ranks, scores = report.ranks(), report.scores
    methods, metrics = report.methods, report.metrics
    grid = np.full((len(methods), len(metrics)), np.nan)
    for i, m in enumerate(methods):
        for j, k in enumerate(metrics):
            ran = len(report.ranking(k))
            if ranks[m][k] is not None:
                grid[i, j] = (ranks[m][k] - 1) / max(1, ran - 1)
    cmap = matplotlib.colormaps["RdYlGn_r"].with_extremes(bad="lightgrey")
    ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0, vmax=1, aspect="auto")
    for i, m in enumerate(methods):
        for j, k in enumerate(metrics):
            dark = np.isfinite(grid[i, j]) and abs(grid[i, j] - 0.5) > 0.35
            ax.text(j, i, _fmt(scores[m][k], 3), ha="center", va="center", fontsize="x-small",
                    color="white" if dark else "black")
    ax.set_xticks(range(len(metrics)))
    ax.set_xticklabels([f"{k} {'↑' if report.higher_is_better[k] else '↓'}" for k in metrics],
                       rotation=30, ha="right", fontsize="small")
    ax.set_yticks(range(len(methods)))
    ax.set_yticklabels([f"{m} (control)" if m == report.control else m for m in methods],
                       fontsize="small")
    if report.control in methods:
        i = methods.index(report.control)
        for y in (i - 0.5, i + 0.5):
            ax.axhline(y, color="black", linewidth=1.5)
    ax.set_title(f"rank per metric (green = best), mean over {report.n} inputs",
                 fontsize="medium")
