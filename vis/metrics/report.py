"""`Report`: what `vis.evaluate` measured, as a table, a ranking, Markdown and a figure."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vis.metrics.curve import Curve

__all__ = ["Report"]


def _fmt(value: float | None, digits: int) -> str:
    if value is None:
        return "n/a"
    if not np.isfinite(value):
        return "inf" if value > 0 else ("-inf" if value < 0 else "nan")
    text = f"{value:.{digits}g}"
    return "0" if text in ("-0", "0") else text


@dataclass
class Report:
    """The outcome of `vis.evaluate`: every metric of every method, per input and on average.

    Built by `vis.evaluate`, not by hand; each argument is kept as the attribute of the same
    name.

    Args:
        methods: The method names, in the order evaluated.
        metrics: The metric names, in order.
        values: `{method: {metric: (N,) array}}`: the per-input values (a method that failed
            has no entry).
        curves: `{method: {metric: Curve}}` for the curve metrics (deletion, insertion,
            pixel flipping).
        higher_is_better: `{metric: bool}`: the direction in which each metric improves.
        errors: `{method: reason}`: methods that could not explain this model (e.g. a CAM
            method on a model without convolutions); their cells read "n/a".
        n: The number of inputs.
        seed: The seed of the evaluation.
        control: The control method (`'random'`) when evaluated, else `None`. Defaults to
            `None`.
        descriptions: `{metric: one line}`. Defaults to `{}`.

    Example:
        >>> report = vis.evaluate(model, x, y, methods=["gradient", "random"])
        >>> report.scores["gradient"]["deletion"]        # the mean over the inputs
        >>> report.ranking("insertion")                   # best first
        >>> print(report.to_markdown())
        >>> report.plot().savefig("evaluation.png")
    """

    methods: list[str]
    metrics: list[str]
    values: dict[str, dict[str, np.ndarray]]
    curves: dict[str, dict[str, Curve]]
    higher_is_better: dict[str, bool]
    errors: dict[str, str]
    n: int
    seed: int | None
    control: str | None = None
    descriptions: dict[str, str] = field(default_factory=dict)

    @property
    def scores(self) -> dict[str, dict[str, float | None]]:
        """`{method: {metric: mean over the inputs}}` (`None` for a method that failed)."""
        return {m: {k: (float(np.mean(self.values[m][k])) if m in self.values else None)
                    for k in self.metrics} for m in self.methods}

    def ranking(self, metric: str) -> list[str]:
        """The methods that ran, best first on `metric` (its direction applied; ties keep the
        evaluation order).

        Raises:
            ValueError: For a metric that was not evaluated.

        Example:
            >>> report.ranking("deletion")[0]   # the lowest deletion AUC
        """
        if metric not in self.metrics:
            raise ValueError(f"`metric` {metric!r} was not evaluated; the report has "
                             f"{self.metrics}.")
        scores = self.scores
        ran = [m for m in self.methods if scores[m][metric] is not None]
        sign = -1.0 if self.higher_is_better[metric] else 1.0
        return sorted(ran, key=lambda m: sign * scores[m][metric])

    def ranks(self) -> dict[str, dict[str, int | None]]:
        """`{method: {metric: rank}}`, 1 = best (`None` for a method that failed)."""
        out = {m: {} for m in self.methods}
        for metric in self.metrics:
            order = self.ranking(metric)
            for m in self.methods:
                out[m][metric] = order.index(m) + 1 if m in order else None
        return out

    def to_markdown(self, digits: int = 3) -> str:
        """A Markdown table: one row per method, one column per metric (the mean over the
        inputs), the best value of each column in bold, the direction in the header (↑ higher
        is better, ↓ lower), and the reason of every "n/a" below.

        Args:
            digits: Significant digits. Defaults to `3`.

        Returns:
            The Markdown text.

        Example:
            >>> print(report.to_markdown())
        """
        scores = self.scores
        best = {k: (self.ranking(k)[0] if self.ranking(k) else None) for k in self.metrics}
        header = "| method | " + " | ".join(
            f"{k} {'↑' if self.higher_is_better[k] else '↓'}" for k in self.metrics) + " |"
        lines = [header, "|---|" + "---:|" * len(self.metrics)]
        for m in self.methods:
            name = f"{m} (control)" if m == self.control else m
            cells = []
            for k in self.metrics:
                text = _fmt(scores[m][k], digits)
                cells.append(f"**{text}**" if best[k] == m and len(self.methods) > 1 else text)
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
        lines.append(f"Mean over {self.n} input(s), seed {self.seed}; ↑ higher is better, "
                     "↓ lower is better; best in bold.")
        for m, reason in self.errors.items():
            lines.append(f"n/a — {m}: {reason}")
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict:
        """A JSON-serializable dict: `scores`, per-input `values`, `higher_is_better`,
        `errors`, `n`, `seed`, and the mean curves."""
        return {
            "methods": list(self.methods), "metrics": list(self.metrics),
            "scores": self.scores,
            "values": {m: {k: v.tolist() for k, v in d.items()} for m, d in self.values.items()},
            "curves": {m: {k: c.mean().tolist() for k, c in d.items()}
                       for m, d in self.curves.items()},
            "higher_is_better": dict(self.higher_is_better), "errors": dict(self.errors),
            "n": self.n, "seed": self.seed,
        }

    def plot(self, curves: tuple[str, ...] | None = None):
        """The figure: mean deletion / insertion (/ pixel-flipping) curves per method, with the
        control as a dashed black reference line, above a heat-map of the methods' rank on
        each metric (1 = best, green), annotated with the mean values.

        Args:
            curves: The curve metrics to draw. Defaults to `None` (every curve metric).

        Returns:
            A matplotlib `Figure` (headless: no pyplot).

        Example:
            >>> fig = report.plot()
            >>> fig.savefig("evaluation.png", dpi=120)
        """
        from vis.metrics._report_plot import plot_report

        return plot_report(self, curves)

    def __str__(self) -> str:
        return self.to_markdown()

    def __repr__(self) -> str:
        return (f"Report(methods={self.methods}, metrics={self.metrics}, n={self.n}, "
                f"errors={list(self.errors)})")
