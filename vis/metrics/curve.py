"""`Curve`: the score of each input as its most relevant pixels are removed or inserted."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Curve"]

_trapezoid = getattr(np, "trapezoid", None) or np.trapz  # NumPy < 2 has only `trapz`


@dataclass(frozen=True, eq=False)
class Curve:
    """A deletion, insertion or pixel-flipping curve, one row per input.

    Built by `vis.metrics.deletion`, `insertion` and `pixel_flipping`, not by hand.

    Attributes:
        kind: `'deletion'`, `'insertion'` or `'pixel_flipping'`.
        scores: `(N, steps + 1)` float64: the target's score (see `score`) of each input at
            each step; step 0 is the input itself (deletion, pixel flipping) or the baseline
            image (insertion).
        fractions: `(steps + 1,)`: the fraction of pixels (regions for pixel flipping) removed
            or inserted at each step, `((s * P) // steps) / P`.
        score: `'probability'` or `'logit'`.

    Example:
        >>> curve = vis.metrics.deletion(model, x, "integrated_gradients", y, steps=20)
        >>> curve.scores.shape, curve.auc.shape
        ((8, 21), (8,))
        >>> fig = curve.plot()
    """

    kind: str
    scores: np.ndarray
    fractions: np.ndarray
    score: str = "probability"

    @property
    def steps(self) -> int:
        """The number of steps (`scores` has `steps + 1` columns)."""
        return self.scores.shape[1] - 1

    @property
    def x(self) -> np.ndarray:
        """The curve's abscissa: `linspace(0, 1, steps + 1)` (step `s` at `s / steps`)."""
        return np.linspace(0.0, 1.0, self.steps + 1)

    @property
    def auc(self) -> np.ndarray:
        """The area under each input's curve, `(N,)`: the trapezoid rule on `x` in [0, 1].

        Deletion: lower is better (the score falls fast); insertion: higher is better.
        """
        return _trapezoid(self.scores, self.x, axis=1)

    @property
    def aopc(self) -> np.ndarray:
        """The area over the perturbation curve (Samek et al. 2017), `(N,)`: the mean drop
        `mean_s (scores[:, 0] - scores[:, s])` over the `steps + 1` steps. Higher is better
        for deletion-like curves."""
        return (self.scores[:, :1] - self.scores).mean(axis=1)

    def mean(self) -> np.ndarray:
        """The mean curve over the inputs, `(steps + 1,)`."""
        return self.scores.mean(axis=0)

    def plot(self, ax=None, label: str | None = None, band: bool = True, **kwargs):
        """Plots the mean curve (and a band of ± one standard deviation over the inputs).

        Args:
            ax: A matplotlib `Axes` to draw on. Defaults to `None` (a new figure).
            label: The legend label. Defaults to `None` (the kind and the mean AUC).
            band: Shade ± one standard deviation. Defaults to `True`.
            **kwargs: Passed to `ax.plot` (e.g. `color`, `linestyle`).

        Returns:
            The matplotlib `Figure`.

        Example:
            >>> fig = curve.plot(label="IG")
            >>> fig.savefig("deletion.png")
        """
        if ax is None:
            from matplotlib.figure import Figure

            fig = Figure(figsize=(4.5, 3.2), layout="constrained")
            ax = fig.add_subplot()
        else:
            fig = ax.figure
        if label is None:
            label = f"{self.kind} (AUC {self.auc.mean():.3f})"
        mean = self.mean()
        (line,) = ax.plot(self.x, mean, label=label, **kwargs)
        if band and len(self.scores) > 1:
            std = self.scores.std(axis=0)
            ax.fill_between(self.x, mean - std, mean + std, color=line.get_color(), alpha=0.12,
                            linewidth=0)
        what = "regions" if self.kind == "pixel_flipping" else "pixels"
        verb = "inserted" if self.kind == "insertion" else "removed"
        ax.set_xlabel(f"fraction of {what} {verb}")
        ax.set_ylabel(f"target {self.score}")
        ax.set_xlim(0, 1)
        ax.legend(fontsize="small")
        return fig

    def __repr__(self) -> str:
        return (f"Curve(kind={self.kind!r}, n={len(self.scores)}, steps={self.steps}, "
                f"score={self.score!r}, mean_auc={self.auc.mean():.4f})")
