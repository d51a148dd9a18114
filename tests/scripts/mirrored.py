"""MirroredStrategy over two logical CPU devices: one session, one writer."""
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

import tfwatcher  # noqa: E402
from tfwatcher import demo  # noqa: E402

(x, y), _ = demo.load_data("digits")
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
assert strategy.num_replicas_in_sync == 2
with strategy.scope():
    model = demo.get_model()
watcher = tfwatcher.callbacks.Watcher(test_batches=None)
model.fit(x, y, batch_size=250, epochs=3, callbacks=[watcher], verbose=0)
assert watcher.session.flush(30)
