"""A custom training loop with a tf.function step, logged through the Session API."""
import time

import keras
import tensorflow as tf

import tfwatcher
from tfwatcher import demo

(x, y), _ = demo.load_data("digits")
dataset = tf.data.Dataset.from_tensor_slices((x, y.astype("float32"))).batch(100)
model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(1)])
optimizer = keras.optimizers.SGD(0.01)


@tf.function
def train_step(xb, yb):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(xb, training=True)[:, 0] - yb))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss


session = tfwatcher.Session(run_name="custom loop")
session.start(mode="custom", epochs=3, steps=10)
for epoch in range(1, 4):
    t_epoch = time.perf_counter()
    for batch, (xb, yb) in enumerate(dataset, start=1):
        t0 = time.perf_counter()
        loss = train_step(xb, yb)
        session.log_batch({"loss": loss}, epoch=epoch, batch=batch, seconds=time.perf_counter() - t0)
    session.log_epoch({"loss": loss}, epoch=epoch, seconds=time.perf_counter() - t_epoch)
session.finish(wait=30)
