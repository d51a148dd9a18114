"""The tutorial (tutorial.ipynb) as a script: MNIST, the one-unit model, `EpochEnd(schedule=1)`.

Run it against whatever is configured (a running `tfwatcher local`, FIRESTORE_EMULATOR_HOST,
or your project: TFWATCHER_PROJECT plus credentials, see docs/deploy.md):

    python examples/tutorial.py                      # MNIST (downloads it), 100 epochs
    python examples/tutorial.py --data digits        # offline: scikit-learn's digits instead
    python examples/tutorial.py --data digits --epochs 5
"""
import argparse

import tensorflow as tf
from tensorflow import keras

import tfwatcher

parser = argparse.ArgumentParser(description="the tutorial's walkthrough as a script")
parser.add_argument("--data", choices=["mnist", "digits"], default="mnist",
                    help="mnist (downloads, default) or digits (offline, same shapes)")
parser.add_argument("--epochs", type=int, default=100)
args = parser.parse_args()

# 1,000 training and 1,000 test samples, flattened to 784 floats in [0, 1].
if args.data == "mnist":
    (x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
    x_train = x_train.reshape(-1, 784).astype("float32") / 255.0
    x_test = x_test.reshape(-1, 784).astype("float32") / 255.0
    x_train, y_train, x_test, y_test = x_train[:1000], y_train[:1000], x_test[:1000], y_test[:1000]
else:
    from tfwatcher.demo import load_data
    (x_train, y_train), (x_test, y_test) = load_data("digits")


def get_model():
    model = keras.Sequential()
    model.add(keras.Input(shape=(784,)))   # the tutorial's Dense(1, input_dim=784), Keras 3 style
    model.add(keras.layers.Dense(1))
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.1),
                  loss="mean_squared_error", metrics=["accuracy"])
    return model


MonitorCallback = tfwatcher.callbacks.EpochEnd(schedule=1)   # prints the session ID and links

model = get_model()
history = model.fit(x_train, y_train, batch_size=128, epochs=args.epochs,
                    validation_split=0.5, callbacks=[MonitorCallback], verbose=2)

if MonitorCallback.session.enabled:
    print("all data sent" if MonitorCallback.session.flush(30) else "some data not sent")
