"""A custom training loop with a `tf.function` train step, logged with `tfwatcher.Session`.

No Keras `fit()`, so no callback: the loop itself hands each batch's loss and each epoch's
train and validation loss to the session, which sends them in the background.

Run it against whatever is configured (a running `tfwatcher local`, FIRESTORE_EMULATOR_HOST,
or your project: TFWATCHER_PROJECT plus credentials, see docs/deploy.md):

    python examples/custom_loop.py --epochs 3
"""
import argparse
import time

import keras
import tensorflow as tf

import tfwatcher
from tfwatcher.demo import load_data

parser = argparse.ArgumentParser(description="custom training loop logged with tfwatcher.Session")
parser.add_argument("--epochs", type=int, default=3)
args = parser.parse_args()

(x_train, y_train), (x_test, y_test) = load_data("digits")
train_ds = tf.data.Dataset.from_tensor_slices((x_train, y_train.astype("float32"))).batch(100)
model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(1)])
optimizer = keras.optimizers.SGD(0.01)


@tf.function
def train_step(xb, yb):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(xb, training=True)[:, 0] - yb))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss


@tf.function
def val_loss_fn(xb, yb):
    return tf.reduce_mean(tf.square(model(xb, training=False)[:, 0] - yb))


session = tfwatcher.Session(run_name="examples/custom_loop.py")
session.start(mode="custom", epochs=args.epochs, steps=len(train_ds))
try:
    for epoch in range(1, args.epochs + 1):
        t_epoch = time.perf_counter()
        for batch, (xb, yb) in enumerate(train_ds, start=1):
            t0 = time.perf_counter()
            loss = train_step(xb, yb)
            # A tensor is fine: the session converts it (this waits for the step to finish).
            session.log_batch({"loss": loss}, epoch=epoch, batch=batch,
                              seconds=time.perf_counter() - t0)
        val_loss = val_loss_fn(x_test, y_test.astype("float32"))
        session.log_epoch({"loss": loss, "val_loss": val_loss}, epoch=epoch,
                          seconds=time.perf_counter() - t_epoch)
        print(f"epoch {epoch}: loss {float(loss):.4f}, val_loss {float(val_loss):.4f}")
except BaseException as err:
    # The logging API has no hooks into your loop: say how it ended.
    stopped = isinstance(err, KeyboardInterrupt)
    session.finish("stopped" if stopped else "crashed", error=None if stopped else err, wait=10)
    raise
ok = session.finish(wait=30)   # wait until everything is in Firestore
if session.enabled:
    print("all data sent" if ok else "some data not sent")
