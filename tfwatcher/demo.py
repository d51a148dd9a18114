"""The reference tutorial's model and data, runnable offline.

The tutorial trains a one-unit Dense layer on 1,000 MNIST images flattened to 784 floats.
Where MNIST cannot be downloaded (offline machines, CI), `load_data("digits")` builds the same
shapes from scikit-learn's bundled 8×8 digits: each image is scaled ×3 and padded to 28×28.
"""

from __future__ import annotations

import numpy as np


def _digits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images / 16.0                                # 8x8 in [0, 1]
    images = np.kron(images, np.ones((1, 3, 3)))                # 24x24
    images = np.pad(images, ((0, 0), (2, 2), (2, 2)))           # 28x28 like MNIST
    x = images.reshape(-1, 784).astype("float32")
    y = digits.target.astype("uint8")
    return (x[:1000], y[:1000]), (x[797:1797], y[797:1797])


def load_data(source: str = "auto"):
    """(x_train, y_train), (x_test, y_test), 1,000 samples each, as in the tutorial.

    Args:
        source: "mnist" (downloads), "digits" (offline) or "auto" (MNIST, else digits).
    """
    if source not in ("auto", "mnist", "digits"):
        raise ValueError(f"source must be auto, mnist or digits; got {source!r}")
    if source in ("auto", "mnist"):
        try:
            import keras

            (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
            x_train = x_train.reshape(-1, 784).astype("float32") / 255.0
            x_test = x_test.reshape(-1, 784).astype("float32") / 255.0
            return (x_train[:1000], y_train[:1000]), (x_test[:1000], y_test[:1000])
        except Exception:
            if source == "mnist":
                raise
    return _digits()


def get_model():
    """The tutorial's model, unchanged."""
    import keras

    model = keras.Sequential()
    model.add(keras.Input(shape=(784,)))
    model.add(keras.layers.Dense(1))
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.1),
                  loss="mean_squared_error", metrics=["accuracy"])
    return model


def train(callbacks, epochs: int = 100, source: str = "digits", verbose: int = 0):
    """Train the tutorial model with `callbacks`; returns the History."""
    (x_train, y_train), _ = load_data(source)
    model = get_model()
    return model.fit(x_train, y_train, batch_size=128, epochs=epochs, validation_split=0.5,
                     callbacks=callbacks, verbose=verbose)
