"""`strategy=` on the JAX backend: every batch sharded over the devices of a Keras `DataParallel`.

Run by `test_other_backends.py` under `KERAS_BACKEND=jax` with two host devices
(`XLA_FLAGS=--xla_force_host_platform_device_count=2`); skipped elsewhere. The TensorFlow suite
checks the clear errors of the other backends (`test_backend_coverage.py`).
"""

import keras
import numpy as np
import pytest
from backend_references import cnn, images

import vis
from vis import backend

TARGETS = np.array([0, 1, 2, 3, 1, 0, 2, 3])


def _devices() -> int:
    import jax

    return len(jax.devices())


pytestmark = pytest.mark.skipif(backend.name() != "jax" or _devices() < 2,
                                reason="needs the JAX backend with two or more devices")


@pytest.fixture()
def shardings(monkeypatch):
    """The shardings of the arrays that the compiled calls received."""
    import jax

    from vis.backend import _jax

    seen, place = [], _jax.place

    def spy(args):
        out = place(args)
        seen.extend(leaf.sharding for leaf in jax.tree_util.tree_leaves(out)
                    if isinstance(leaf, jax.Array))
        return out

    monkeypatch.setattr(_jax, "place", spy)
    return seen


def _sharded(seen) -> bool:
    import jax

    return any(isinstance(s, jax.sharding.NamedSharding) and len(s.device_set) >= 2 for s in seen)


@pytest.mark.parametrize("method", ["gradient", "guided_backprop", "integrated_gradients",
                                    "gradcam", "lrp_epsilon", "occlusion"])
def test_sharded_maps_equal_one_device(method, shardings):
    model, _ = cnn()
    x = images(8)
    weights = [np.array(w) for w in model.get_weights()]
    want = vis.explain(model, x, method, TARGETS)
    assert not _sharded(shardings)
    got = vis.explain(model, x, method, TARGETS,
                      strategy=keras.distribution.DataParallel())
    assert _sharded(shardings), "the batch was not sharded over the devices"
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * np.abs(want).max())
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)


def test_a_mesh_a_stream_and_an_odd_batch():
    import jax

    model, _ = cnn()
    x = images(9)
    mesh = jax.sharding.Mesh(np.array(jax.devices()), ("data",))
    want = vis.explain(model, x, "gradient")
    np.testing.assert_allclose(vis.explain(model, x, "gradient", strategy=mesh), want,
                               rtol=1e-5, atol=1e-7)  # 9 samples: one device, same maps
    stream = vis.explain(model, iter([x[:4], x[4:8]]), "gradient", strategy=mesh, verbose=False)
    np.testing.assert_allclose(np.concatenate(list(stream)), want[:8], rtol=1e-5, atol=1e-7)


def test_the_keras_distribution_in_effect_is_used(shardings):
    model, _ = cnn()
    x = images(8)
    want = vis.explain(model, x, "gradient", TARGETS)
    keras.distribution.set_distribution(keras.distribution.DataParallel())
    try:
        got = vis.explain(model, x, "gradient", TARGETS)
    finally:
        keras.distribution.set_distribution(None)
    assert _sharded(shardings)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_bad_strategies_are_refused_by_name():
    import jax

    model, _ = cnn()
    x = images(4)
    with pytest.raises(TypeError, match="`strategy` must be None, a keras.distribution"):
        vis.explain(model, x, "gradient", strategy="mirrored")
    mesh = jax.sharding.Mesh(np.array(jax.devices()[:2]).reshape(1, 2), ("a", "b"))
    with pytest.raises(ValueError, match="`strategy`: a jax.sharding.Mesh with one axis"):
        vis.explain(model, x, "gradient", strategy=mesh)
