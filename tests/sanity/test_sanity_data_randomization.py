"""Data randomization test on scikit-learn's digits: memorized random labels, chance test accuracy."""

import keras
import numpy as np
import pytest

from vis.sanity import data_randomization_test
from vis.utils.digits import load_digits


def build_wide_mlp():
    """Three 256-unit ReLU layers: memorizes 1347 random-labelled digits in ~45 epochs."""
    init = keras.initializers.GlorotUniform
    model = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten()]
        + [keras.layers.Dense(256, activation="relu", kernel_initializer=init(i)) for i in range(3)]
        + [keras.layers.Dense(10, kernel_initializer=init(3))]
    )
    model.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


@pytest.fixture(scope="module")
def result():
    (xtr, ytr), (xte, yte) = load_digits()
    return data_randomization_test(build_wide_mlp, xtr, ytr, xte, yte, "gradient", epochs=45,
                                   n_explained=64, fit_kwargs={"batch_size": 128}, verbose=False)


@pytest.mark.slow
def test_memorizes_random_labels_at_chance_test_accuracy(result):
    assert result.mode == "data" and result.steps == ["random_labels"]
    assert result.train_accuracy["original"] > 0.98
    assert result.train_accuracy["random_labels"] > 0.9  # memorization (observed ~1.0)
    assert result.accuracy["original"] > 0.9
    assert result.accuracy["random_labels"] < 0.25  # chance is 0.1 (450 test images)
    (xtr, ytr), (xte, yte) = load_digits()
    model = result.models["random_labels"]
    assert np.mean(model.predict(xte, verbose=0).argmax(-1) == yte) == pytest.approx(
        result.accuracy["random_labels"])


@pytest.mark.slow
def test_similarities_are_reported_and_low_for_the_gradient(result):
    for name, values in result.scores.items():
        assert values.shape == (1, 64) and np.all(np.isfinite(values)), name
    # The random-label model's gradients do not resemble the true model's (observed ~0.02).
    assert abs(result.scores["spearman"].mean()) < 0.2
    assert result.maps["original"].shape == result.maps["random_labels"].shape == (64, 8, 8, 1)
    text = result.summary()
    assert "random_labels" in text and "train acc" in text
    bars, grid = result.plot(n_images=2)
    assert len(bars.axes) == 1 and len(grid.axes) == 2 * 3


def test_arguments_are_checked():
    (xtr, ytr), (xte, yte) = load_digits()
    with pytest.raises(ValueError, match="epochs"):
        data_randomization_test(build_wide_mlp, xtr, ytr, xte, yte, "gradient", epochs=0)
    with pytest.raises(ValueError, match="Valid names"):
        data_randomization_test(build_wide_mlp, xtr, ytr, xte, yte, "grad", epochs=1)
    with pytest.raises(TypeError, match="keras.Model"):
        data_randomization_test(lambda: "model", xtr, ytr, xte, yte, "gradient", epochs=1,
                                verbose=False)
    same = build_wide_mlp()
    with pytest.raises(ValueError, match="same model twice"):
        data_randomization_test(lambda: same, xtr[:32], ytr[:32], xte, yte, "gradient",
                                epochs=1, verbose=False)
