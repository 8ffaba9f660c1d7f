"""scikit-learn's bundled 8x8 digits as a tiny image data set, and a small CNN for it.

Used by the demo, the examples, the benchmarks and the tests: no download, trains in seconds.
"""

from __future__ import annotations

import numpy as np

__all__ = ["load_digits", "build_digits_cnn", "train_digits_cnn"]


def load_digits(
    test_fraction: float = 0.25, seed: int = 0
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads scikit-learn's bundled digits as `(8, 8, 1)` float32 images in [0, 1].

    Args:
        test_fraction: Fraction of the 1797 images held out for testing. Defaults to `0.25`.
        seed: Seed of the train/test shuffle. Defaults to `0`.

    Returns:
        `((x_train, y_train), (x_test, y_test))`, images shaped `(n, 8, 8, 1)` and integer labels.

    Raises:
        ValueError: If `test_fraction` is not in (0, 1).

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_digits()
        >>> x_train.shape[1:]
        (8, 8, 1)
    """
    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"`test_fraction` must be in (0, 1), got {test_fraction!r}.")
    from sklearn.datasets import load_digits as _sk_load_digits

    bunch = _sk_load_digits()
    x = (bunch.images.astype("float32") / 16.0)[..., None]
    y = bunch.target.astype("int64")
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    n_test = int(round(len(x) * test_fraction))
    return (x[n_test:], y[n_test:]), (x[:n_test], y[:n_test])


def build_digits_cnn(
    filters: tuple[int, int] = (16, 32), softmax: bool = True, seed: int = 0
):
    """Builds a small digits CNN: two 3x3 convolutions with ReLU, a max-pool, and a dense head.

    Args:
        filters: Number of filters of the two convolutions. Defaults to `(16, 32)`.
        softmax: End in a softmax (`True`) or in logits. Defaults to `True`.
        seed: Seed of the weight initializers. Defaults to `0`.

    Returns:
        An uncompiled functional `keras.Model` with input `(8, 8, 1)` and 10 outputs. Layer names:
        `conv1`, `conv2`, `pool`, `flatten`, `dense`, `predictions`.

    Example:
        >>> cnn = build_digits_cnn(softmax=False, seed=1)
        >>> cnn.output_shape, cnn.get_layer("predictions").activation.__name__
        ((None, 10), 'linear')
    """
    import keras

    init = keras.initializers.GlorotUniform
    inputs = keras.Input((8, 8, 1), name="image")
    h = keras.layers.Conv2D(filters[0], 3, padding="same", activation="relu", name="conv1",
                            kernel_initializer=init(seed))(inputs)
    h = keras.layers.Conv2D(filters[1], 3, padding="same", activation="relu", name="conv2",
                            kernel_initializer=init(seed + 1))(h)
    h = keras.layers.MaxPooling2D(2, name="pool")(h)
    h = keras.layers.Flatten(name="flatten")(h)
    h = keras.layers.Dense(32, activation="relu", name="dense", kernel_initializer=init(seed + 2))(h)
    outputs = keras.layers.Dense(10, activation="softmax" if softmax else None, name="predictions",
                                 kernel_initializer=init(seed + 3))(h)
    return keras.Model(inputs, outputs, name="digits_cnn")


def train_digits_cnn(epochs: int = 15, seed: int = 0, softmax: bool = True, verbose: int = 0):
    """Trains `build_digits_cnn` on `load_digits()` (a few seconds on a CPU).

    Args:
        epochs: Training epochs. Defaults to `15` (about 97% test accuracy).
        seed: Seed of the initializers and of the shuffling. Defaults to `0`.
        softmax: Whether the model ends in a softmax. Defaults to `True`.
        verbose: Keras `fit` verbosity. Defaults to `0`.

    Returns:
        `(model, (x_train, y_train), (x_test, y_test))`.

    Example:
        >>> model, (x_train, y_train), (x_test, y_test) = train_digits_cnn(epochs=2)
    """
    import keras

    keras.utils.set_random_seed(seed)
    (x_train, y_train), (x_test, y_test) = load_digits(seed=seed)
    model = build_digits_cnn(softmax=softmax, seed=seed)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=not softmax),
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=verbose, shuffle=True)
    return model, (x_train, y_train), (x_test, y_test)
