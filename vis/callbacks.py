"""Callbacks of `visualize_activation` (keras-vis' `vis.callbacks`).

After every gradient step the optimizer calls `callback(i, named_losses, overall_loss, grads,
wrt_value)` of each callback, and `on_end()` once at the end, with keras-vis' arguments.
"""

from __future__ import annotations

import numpy as np

__all__ = ["OptimizerCallback", "Print"]


class OptimizerCallback:
    """Base class of the optimizer callbacks.

    Example:
        >>> class Record(OptimizerCallback):
        ...     def __init__(self):
        ...         self.losses = []
        ...     def callback(self, i, named_losses, overall_loss, grads, wrt_value):
        ...         self.losses.append(overall_loss)
    """

    def callback(self, i: int, named_losses: list, overall_loss: float, grads: np.ndarray,
                 wrt_value: np.ndarray) -> None:
        """Called after step `i` (from 0).

        Args:
            i: The step.
            named_losses: `[(loss name, weighted value), ...]`.
            overall_loss: The sum of the weighted losses (what is minimized).
            grads: The (normalized, modified) gradient of the overall loss w.r.t. the input.
            wrt_value: The input the gradient was taken at.
        """

    def on_end(self) -> None:
        """Called once when the optimization ends."""


class Print(OptimizerCallback):
    """Prints the losses of every step (what `verbose=True` adds).

    Example:
        >>> img = visualize_activation(model, -1, 3, max_iter=5, callbacks=[Print()])
    """

    def callback(self, i, named_losses, overall_loss, grads, wrt_value) -> None:
        parts = ", ".join(f"{name}: {float(value):.4f}" for name, value in named_losses)
        print(f"Iteration: {i + 1}, named_losses: [{parts}], overall loss: "
              f"{float(overall_loss):.4f}")
