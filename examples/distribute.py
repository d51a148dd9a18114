"""`tf.distribute.MirroredStrategy` over two logical CPU devices, trained with `fit()` and a
callback: one process, so one session and one writer.

(On a multi-worker strategy, only the chief writes; see docs/python.md. For
ParameterServerStrategy see parameter_server.py.)

Run it against whatever is configured (a running `tfwatcher local`, FIRESTORE_EMULATOR_HOST,
or your project: TFWATCHER_PROJECT plus credentials, see docs/deploy.md):

    python examples/distribute.py --epochs 3
"""
import argparse

import tensorflow as tf

# Two logical devices on the one CPU, set before TensorFlow initialises its devices.
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import tfwatcher  # noqa: E402
from tfwatcher.demo import get_model, load_data  # noqa: E402

parser = argparse.ArgumentParser(description="MirroredStrategy on 2 logical CPUs with a callback")
parser.add_argument("--epochs", type=int, default=3)
args = parser.parse_args()

(x_train, y_train), _ = load_data("digits")
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
print("replicas in sync:", strategy.num_replicas_in_sync)
with strategy.scope():
    model = get_model()

watcher = tfwatcher.callbacks.Watcher(run_name="examples/distribute.py")
# batch_size is the global batch: each replica gets half of it.
model.fit(x_train, y_train, batch_size=250, epochs=args.epochs, callbacks=[watcher], verbose=2)

if watcher.session.enabled:
    print("all data sent" if watcher.session.flush(30) else "some data not sent")
