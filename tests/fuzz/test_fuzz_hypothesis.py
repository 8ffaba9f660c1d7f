"""Generated bad values (Hypothesis, derandomized): every one is refused naming its parameter."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vis
from fuzz.fuzz_helpers import OK, check_case
from vis.utils import checks

SETTINGS = settings(derandomize=True, max_examples=20, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))

not_an_int = st.one_of(
    st.text(max_size=5), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
    st.lists(st.integers(), max_size=2), st.just(np.float32(1.0)), st.just(b"3"),
)
negative = st.integers(max_value=-1)
not_positive_float = st.one_of(
    st.floats(max_value=0.0), st.just(float("nan")), st.just(float("inf")), st.text(max_size=4),
    st.booleans(), st.none(), st.lists(st.floats(), max_size=2),
)


@SETTINGS
@given(value=st.one_of(not_an_int, negative))
def test_seeds_are_never_passed_to_numpy(convnet, value):
    model, x, y = convnet
    check_case(lambda: vis.explain(model, x, "random", y, seed=value), (ValueError, "seed"),
               [model])


@SETTINGS
@given(value=st.one_of(not_an_int, st.integers(max_value=0)))
def test_batch_sizes(convnet, value):
    model, x, y = convnet
    check_case(lambda: vis.explain(model, x, "gradient", y, batch_size=value),
               (ValueError, "batch_size"), [model])


@SETTINGS
@given(value=not_positive_float)
def test_noise_levels(convnet, value):
    model, x, y = convnet
    check_case(lambda: vis.explain(model, x, "gradient", y, smooth={"samples": 2, "noise": value}),
               (ValueError, "smooth['noise']"), [model])


@SETTINGS
@given(position=st.integers(0, 3), flag=st.booleans())
def test_a_boolean_among_the_targets(convnet, position, flag):
    model, x, y = convnet
    targets = [int(t) for t in y]
    targets[position] = flag
    check_case(lambda: vis.explain(model, x, "gradient", targets), (TypeError, "targets"),
               [model])


@SETTINGS
@given(samples=st.integers(checks.MAX_COPIES // 4 + 1, 10**15))
def test_absurd_sample_counts_are_refused_with_the_number(convnet, samples):
    model, x, y = convnet
    err = check_case(lambda: vis.explain(model, x, "smoothgrad", y, samples=samples),
                     (ValueError, "samples"), [model])
    assert f"{samples * len(x):,}" in str(err)


@SETTINGS
@given(seed=st.one_of(st.none(), st.integers(0, 2**32)))
def test_valid_seeds_give_finite_maps(convnet, seed):
    model, x, y = convnet
    check_case(lambda: vis.explain(model, x, "random", y, seed=seed), OK, [model])


@pytest.mark.parametrize("check, bad", [
    (checks.positive_int, [0, -1, 1.0, True, "1", None]),
    (checks.positive_float, [0, -1.0, float("nan"), float("inf"), True, "0.1", None]),
    (checks.seed, [-1, 1.5, True, "0", np.bool_(True)]),
    (checks.batch_size, [0, 2.0, False, "8"]),
    (checks.finite_float, [float("nan"), "1", True, None]),
])
def test_shared_checks_name_the_parameter(check, bad):
    for value in bad:
        with pytest.raises(ValueError, match="`param`"):
            check(value, "param")
