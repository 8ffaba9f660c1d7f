"""The model randomization test over a dataset, in O(one batch) memory.

`model_randomization_test(model, dataset, None, method, ...)` with a `tf.data.Dataset` of
`(inputs, labels)` (or inputs alone with `target='predicted'`) or any iterable of such batches
runs the test batch by batch: for each batch the working copy gets the trained weights back,
the batch is explained by the trained model and by every randomization step in turn, and each
input's similarity scores are kept. Only numbers per input are kept for all inputs (the scores
of every metric and step, the explained classes, the accuracy counts); the maps and inputs are
kept for the first `KEEP` inputs only, for `Result.plot`. Per input, the scores equal those of
the in-memory test (every built-in metric compares one input's maps), except for methods that
are fitted on the inputs (PatternNet, PatternAttribution), which are fitted on each batch.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from tqdm.auto import tqdm

from vis import engine
from vis.sanity import _common, _layout
from vis.sanity.result import Result
from vis.utils.model import iter_layers

__all__ = ["model_randomization_stream", "KEEP"]

KEEP = 16
"""Inputs whose maps (and the inputs themselves) a streamed test keeps, for `Result.plot`."""


def model_randomization_stream(model, data, method, *, mode: str, fns: dict,
                               default_metrics: bool, target: str, reinitialize, seed,
                               batch_size, verbose: bool, steps, channel_axis,
                               workspace: Callable, new_weights: Callable) -> Result:
    """The streamed model randomization test (arguments checked by the caller).

    Args:
        model: The model.
        data: A `tf.data.Dataset` or an iterable of batches (`(x, y)` tuples, or `x`).
        method: The explainer (name or callable).
        mode: `'cascading'` or `'independent'`.
        fns: The metric functions.
        default_metrics: Whether `fns` are the defaults (inapplicable ones are skipped).
        target: `'label'` or `'predicted'`.
        reinitialize: As `model_randomization_test`'s.
        seed: As `model_randomization_test`'s.
        batch_size: As `model_randomization_test`'s (also the batch size of an unbatched
            dataset).
        verbose: Show a tqdm bar of the inputs done per second.
        steps: `randomization_steps(model, layers)`.
        channel_axis: The user's `channel_axis` (checked).
        workspace: The randomization module's `_workspace` context manager.
        new_weights: The randomization module's `_new_weights`.

    Returns:
        A `Result` whose `scores` cover every input, `maps` and `inputs` the first `KEEP`.

    Raises:
        ValueError: As `model_randomization_test`, or a stream without batches / labels.
    """
    from vis import streaming

    fn = _common.explainer(method)
    units = int(model.outputs[0].shape[-1])
    names = [name for name, _ in steps]
    scores: dict[str, list] = {}
    maps_kept: dict[str, list] = {"original": [], **{n: [] for n in names}}
    inputs_kept: list = []
    targets: dict[str, list] = {"original": [], **{n: [] for n in names}}
    correct = dict.fromkeys(["original", *names], 0)
    labelled = True
    total = 0
    state = {}
    with workspace(model) as ws, tqdm(disable=not verbose, unit="img", leave=False,
                                      desc=f"{mode} randomization (streamed)") as bar:
        layer_of = dict(iter_layers(ws.model))
        paths = [p for _, step_paths in steps for p in step_paths]
        new = {p: new_weights(layer_of[p], p, reinitialize, seed) for p in paths}
        trained = {p: layer_of[p].get_weights() for p in paths}
        for raw, y in streaming.iterate_batches(model, data, batch_size, "x"):
            x, _ = engine.prepare_input(model, raw, "x")
            n = len(x)
            if y is None and target == "label":
                raise ValueError("`x` yields inputs without labels: give (inputs, labels) "
                                 "batches, or use target='predicted'.")
            labelled &= y is not None
            y = None if y is None else _common.labels(y, n, units)
            for p in paths:
                layer_of[p].set_weights(trained[p])
            logits = ws.predict(x, batch_size)
            t = y if target == "label" else logits.argmax(axis=-1)
            original = _common.explain(fn, ws.model, x, t, batch_size, "original model")
            if not state:  # the first batch: the layout of the maps, and the metrics that apply
                expected = _layout.spatial_shape(
                    x.shape, _layout.channel_axis_for(model, x.shape, channel_axis, "inputs `x`"))
                fns = _layout.applicable_metrics(fns, expected, default_metrics,
                                                 "inputs shaped like `x`")
                axis = _layout.channel_axis_for(model, original.shape, channel_axis, "maps")
                shape = _layout.spatial_shape(original.shape, axis)
                if shape != expected:
                    fns = _layout.applicable_metrics(fns, shape, default_metrics,
                                                     "the explainer")
                state.update(axis=axis, input_axis=_layout.auto_channel_axis(model, x.ndim))
                scores = {m: [[] for _ in steps] for m in fns}
            scorer = _common.Scorer(fns, original, state["axis"])
            keep = max(0, min(n, KEEP - total))
            _record(maps_kept, targets, correct, "original", original, t, logits, y, keep)
            previous: list[str] = []
            for k, (name, step_paths) in enumerate(steps):
                if mode == "independent":
                    for p in previous:
                        layer_of[p].set_weights(trained[p])
                for p in step_paths:
                    layer_of[p].set_weights(new[p])
                previous = step_paths
                logits = ws.predict(x, batch_size)
                t = y if target == "label" else logits.argmax(axis=-1)
                where = f"step {name!r}"
                maps = _common.explain(fn, ws.model, x, t, batch_size, where)
                for metric, values in scorer(maps, where).items():
                    scores[metric][k].append(values)
                _record(maps_kept, targets, correct, name, maps, t, logits, y, keep)
            if keep:
                inputs_kept.append(x[:keep])
            total += n
            bar.update(n)
    if not total:
        raise ValueError("`x` yielded no batch.")
    return Result(
        method=_common.method_name(method), mode=mode, steps=names,
        scores={m: np.stack([np.concatenate(parts) for parts in per_step])
                for m, per_step in scores.items()},
        maps={k: np.concatenate(v) for k, v in maps_kept.items()},
        accuracy={k: (c / total if labelled else None) for k, c in correct.items()},
        targets={k: np.concatenate(v) for k, v in targets.items()},
        inputs=np.concatenate(inputs_kept), channel_axis=state["input_axis"],
        map_channel_axis=state["axis"],
    )


def _record(maps_kept, targets, correct, name, maps, t, logits, y, keep) -> None:
    if keep:
        maps_kept[name].append(maps[:keep])
    targets[name].append(np.asarray(t))
    if y is not None:
        correct[name] += int(np.sum(logits.argmax(axis=-1) == y))
