"""`Result`: what a sanity check measured, with a summary table and the paper's figures."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Result"]


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"


@dataclass
class Result:
    """The outcome of `model_randomization_test` or `data_randomization_test`.

    Built by the tests, not by hand; each argument is kept as the attribute of the same name.

    Args:
        method: The explainer's name.
        mode: `'cascading'`, `'independent'` or `'data'`.
        steps: The step names in order: the randomized layer (or block) of each step for a
            model randomization test, `['random_labels']` for the data randomization test.
        scores: `{metric: array of shape (len(steps), N)}`: the similarity of each input's map
            at each step to its map from the original model.
        maps: `{'original': maps, step: maps, ...}`: the raw explanations, `(N, ...)` each
            (a test streamed over a dataset keeps the first `vis.sanity.streamed.KEEP`).
        accuracy: `{'original': acc, step: acc, ...}`: accuracy of each model on `(x, y)` (the
            test set for the data randomization test); `None` when no labels were given.
        targets: `{'original': classes, step: classes, ...}`: the class explained for each input.
        inputs: The explained inputs `x` (streamed: the first `vis.sanity.streamed.KEEP`).
        channel_axis: The channel axis of the inputs (`-1` or `1`), or `None` if they have
            none (grayscale `(N, H, W)` images, flat vectors). Defaults to `None`.
        map_channel_axis: The channel axis of the maps, summed over by the metrics and the
            plots, or `None` (e.g. Grad-CAM's `(N, H, W)` maps). Defaults to `None`.
        train_accuracy: Data randomization test only: `{'original': acc, 'random_labels': acc}`,
            each model's accuracy on the labels it was trained on (memorization). Defaults to
            `None`.
        models: Data randomization test only: `{'original': model, 'random_labels': model}`,
            the two trained models. Defaults to `None`.

    Example:
        >>> result = model_randomization_test(model, x, y, "gradient")
        >>> result.scores["spearman"].shape
        (4, 32)
        >>> print(result.summary())
    """

    method: str
    mode: str
    steps: list[str]
    scores: dict[str, np.ndarray]
    maps: dict[str, np.ndarray]
    accuracy: dict[str, float | None]
    targets: dict[str, np.ndarray]
    inputs: np.ndarray
    channel_axis: int | None = None
    map_channel_axis: int | None = None
    train_accuracy: dict[str, float] | None = field(default=None)
    models: dict | None = field(default=None, repr=False)

    @property
    def n_inputs(self) -> int:
        """The number of inputs tested (a streamed test keeps only the first few `inputs`)."""
        for values in self.scores.values():
            return int(np.shape(values)[-1])
        return len(self.inputs)

    def table(self) -> dict[str, dict[str, tuple[float, float]]]:
        """Mean and standard deviation of each metric's scores at each step.

        Returns:
            `{step: {metric: (mean, std)}}`, over the inputs, as Python floats, steps in
            order.

        Example:
            >>> mean, std = result.table()["predictions"]["spearman"]
        """
        return {
            step: {m: (float(s[k].mean()), float(s[k].std())) for m, s in self.scores.items()}
            for k, step in enumerate(self.steps)
        }

    def summary(self) -> str:
        """A text table: mean ± std of each metric at each step, and each model's accuracy.

        Returns:
            The table as a string (print it).

        Example:
            >>> print(result.summary())
        """
        metrics = list(self.scores)
        width = max([len("original")] + [len(s) for s in self.steps]) + 2
        cols = [f"{m:>15}" for m in metrics] + [f"{'accuracy':>10}"]
        if self.train_accuracy is not None:
            cols.append(f"{'train acc':>10}")
        n = self.n_inputs
        reference = "true-label model's" if self.mode == "data" else "original model's"
        lines = [
            f"Sanity check ({self.mode}) of {self.method!r} on {n} input(s): similarity to the "
            f"{reference} maps, mean ± std",
            f"{'step':<{width}}" + "".join(cols),
        ]

        def row(name: str, cells: list[str]) -> str:
            acc = [f"{_fmt(self.accuracy.get(name)):>10}"]
            if self.train_accuracy is not None:
                acc.append(f"{_fmt(self.train_accuracy.get(name)):>10}")
            return f"{name:<{width}}" + "".join(f"{c:>15}" for c in cells) + "".join(acc)

        lines.append(row("original", ["1 (ref.)"] * len(metrics)))
        table = self.table()
        for step in self.steps:
            cells = [f"{table[step][m][0]:.3f} ± {table[step][m][1]:.3f}" for m in metrics]
            lines.append(row(step, cells))
        return "\n".join(lines)

    def plot(self, n_images: int = 4, signed: bool = False):
        """The paper's figures: similarity across steps, and the grid of maps across steps.

        Args:
            n_images: Number of inputs (rows) in the map grid. Defaults to `4`.
            signed: Show signed maps (diverging colors) instead of absolute ones. Defaults to
                `False`.

        Returns:
            `(curves_figure, maps_figure)`, two matplotlib figures.

        Raises:
            ValueError: If `n_images` is not a positive int or the maps are not 2-D images
                (see `vis.sanity.plot_maps`).

        Example:
            >>> curves, grid = result.plot(n_images=3)
            >>> curves.savefig("sanity_curves.png")
        """
        from vis.sanity.plotting import plot_maps, plot_scores

        return plot_scores(self), plot_maps(self, n_images=n_images, signed=signed)

    def __repr__(self) -> str:
        return (
            f"Result(method={self.method!r}, mode={self.mode!r}, steps={self.steps}, "
            f"metrics={list(self.scores)}, n={self.n_inputs})"
        )
