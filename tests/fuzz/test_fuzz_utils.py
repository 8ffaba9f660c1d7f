"""The public helpers: re-initialization and randomization steps, overlays, normalization."""

import numpy as np
import pytest

from fuzz.fuzz_helpers import OK, check_case
from vis.sanity import randomization_steps, reinitialize_layer
from vis.utils.image import normalize
from vis.visualization import get_num_filters, overlay

IMAGE = np.ones((6, 6, 3), "float32")


@pytest.mark.parametrize("case, call, expected", [
    ("reinitialize_ok", lambda m: reinitialize_layer(m.get_layer("conv"), 0), OK),
    ("reinitialize_seed_str", lambda m: reinitialize_layer(m.get_layer("conv"), "abc"),
     (ValueError, "seed")),
    ("reinitialize_seed_negative", lambda m: reinitialize_layer(m.get_layer("conv"), -3),
     (ValueError, "seed")),
    ("reinitialize_not_a_layer", lambda m: reinitialize_layer(None, 0), (TypeError, "layer")),
    ("steps_ok", lambda m: [len(p) for _, p in randomization_steps(m)], OK),
    ("steps_model_none", lambda m: randomization_steps(None), (TypeError, "model")),
    ("steps_unknown_layer", lambda m: randomization_steps(m, ["zzz"]), (ValueError, "layers")),
    ("overlay_ok", lambda m: overlay(IMAGE, IMAGE * 0.5), OK),
    ("overlay_nan", lambda m: overlay(IMAGE, IMAGE * np.nan), (ValueError, "array2")),
    ("overlay_text", lambda m: overlay(np.full((2, 2), "a"), np.full((2, 2), "b")),
     (TypeError, "array1")),
    ("overlay_shapes", lambda m: overlay(IMAGE, IMAGE[:3]), (ValueError, "array1")),
    ("overlay_alpha_str", lambda m: overlay(IMAGE, IMAGE, alpha="a"), (ValueError, "alpha")),
    ("overlay_alpha_bool", lambda m: overlay(IMAGE, IMAGE, alpha=True), (ValueError, "alpha")),
    ("normalize_text", lambda m: normalize("abc"), (TypeError, "array")),
    ("get_num_filters_none", lambda m: get_num_filters(None), (TypeError, "layer")),
    ("get_num_filters_ok", lambda m: get_num_filters(m.get_layer("conv")), OK),
])
def test_public_helpers(convnet, case, call, expected):
    model, _, _ = convnet
    check_case(lambda: call(model), expected, [model], degenerate_ok=True)
