"""vis.evaluate and the model randomization test over datasets: batch by batch, same numbers."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import vis
from vis.sanity import model_randomization_test, streamed


@pytest.fixture(scope="module")
def data():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(3, activation="softmax"),
    ])
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(40, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 3, 40)
    return model, x, y


@pytest.mark.parametrize("mode", ["cascading", "independent"])
def test_randomization_test_streamed_equals_in_memory(data, mode):
    model, x, y = data
    whole = model_randomization_test(model, x, y, "gradient", mode=mode, verbose=False)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    parts = model_randomization_test(model, dataset, None, "gradient", mode=mode,
                                     verbose=False)
    assert parts.n_inputs == 40 and "on 40 input(s)" in parts.summary()
    for metric, scores in whole.scores.items():
        np.testing.assert_allclose(parts.scores[metric], scores, rtol=1e-12, atol=1e-12)
    assert parts.accuracy == whole.accuracy
    for step, maps in whole.maps.items():
        np.testing.assert_array_equal(parts.maps[step], maps[:streamed.KEEP])
        np.testing.assert_array_equal(parts.targets[step], whole.targets[step])
    np.testing.assert_array_equal(parts.inputs, x[:streamed.KEEP])
    curves, grid = parts.plot(n_images=2)
    assert curves is not None and grid is not None


def test_randomization_test_streamed_predicted_targets_and_errors(data):
    model, x, y = data
    batches = (x[i:i + 10] for i in range(0, 40, 10))
    result = model_randomization_test(model, batches, None, "gradient", target="predicted",
                                      verbose=False, metrics=("spearman",))
    assert result.accuracy["original"] is None and result.scores["spearman"].shape == (2, 40)
    with pytest.raises(ValueError, match="without labels"):
        model_randomization_test(model, iter([x[:5]]), None, "gradient", verbose=False)
    with pytest.raises(ValueError, match="`y`"):
        model_randomization_test(model, iter([x[:5]]), y[:5], "gradient", verbose=False)


def test_evaluate_streamed_is_the_batches_evaluated_alone(data):
    model, x, y = data
    kwargs = dict(methods=["gradient", "patternnet", "random"],
                  metrics=["deletion", "sparseness", "max_sensitivity"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = vis.evaluate(model, tf.data.Dataset.from_tensor_slices((x, y)).batch(16),
                              fit_inputs=x, **kwargs)
        fitted_on_the_stream = vis.evaluate(
            model, tf.data.Dataset.from_tensor_slices((x, y)).batch(16), **kwargs)
        alone = [vis.evaluate(model, x[i:i + 16], y[i:i + 16], fit_inputs=x, **kwargs)
                 for i in range(0, 40, 16)]
    assert report.n == 40 and not report.errors
    for method in report.methods:
        for metric in report.metrics:
            np.testing.assert_allclose(
                report.values[method][metric],
                np.concatenate([r.values[method][metric] for r in alone]), rtol=1e-12)
    # PatternNet fitted on the dataset itself (batches of 16): float32 sums, other rounding
    np.testing.assert_allclose(fitted_on_the_stream.values["patternnet"]["deletion"],
                               report.values["patternnet"]["deletion"], rtol=1e-5)
    deletion = report.curves["gradient"]["deletion"]
    assert deletion.scores.shape[0] == 40
    assert "Mean over 40 input(s)" in report.to_markdown()
