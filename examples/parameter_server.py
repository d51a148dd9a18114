"""ParameterServerStrategy on an in-process cluster on loopback, in a custom training loop.

The tutorial promises that monitoring works with a ParameterServer strategy in a custom
training loop. This script starts a whole cluster inside one process: 2 workers and 1
parameter server as `tf.distribute.Server`s on free ports of 127.0.0.1. The coordinator (this
process) schedules `tf.function` training steps on the workers with a `ClusterCoordinator`
and logs every step's loss through `tfwatcher.Session`: only the coordinator writes.

Run it against whatever is configured (an emulator via FIRESTORE_EMULATOR_HOST, a running
`tfwatcher local`, or your project via TFWATCHER_PROJECT / credentials):

    python examples/parameter_server.py --epochs 3
"""
import argparse
import os
import socket
import time
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The in-process cluster must not pick up a TF_CONFIG meant for something else.
os.environ.pop("TF_CONFIG", None)
os.environ.setdefault("GRPC_FAIL_FAST", "use_caller")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfwatcher  # noqa: E402
from tfwatcher.demo import load_data  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--steps", type=int, default=10, help="steps per epoch (default 10)")
args = parser.parse_args()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----- the cluster: 2 workers + 1 PS in this process, on loopback -------------------------------
cluster_dict = {"worker": [f"127.0.0.1:{free_port()}" for _ in range(2)],
                "ps": [f"127.0.0.1:{free_port()}"]}
cluster_spec = tf.train.ClusterSpec(cluster_dict)
config = tf.compat.v1.ConfigProto()
# Each worker needs threads for its own ops plus the coordinator's calls (with fewer cores than
# that, TensorFlow's default pool is too small and steps deadlock).
config.inter_op_parallelism_threads = len(cluster_dict["worker"]) + 1
servers = [tf.distribute.Server(cluster_spec, job_name=job, task_index=i, protocol="grpc",
                                config=config, start=True)
           for job in ("worker", "ps") for i in range(len(cluster_dict[job]))]
resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(cluster_spec, rpc_layer="grpc")
strategy = tf.distribute.experimental.ParameterServerStrategy(resolver)
coordinator = tf.distribute.coordinator.ClusterCoordinator(strategy)

# ----- data and model: the tutorial's one-unit Dense layer on offline digits ----------------------
(x, y), _ = load_data("digits")
y = y.astype("float32")
BATCH = 100
LEARNING_RATE = 0.001


def dataset_fn():
    return (tf.data.Dataset.from_tensor_slices((x, y)).shuffle(1000, seed=1)
            .repeat().batch(BATCH))


with strategy.scope():
    kernel = tf.Variable(tf.zeros((784, 1)), name="kernel")
    bias = tf.Variable(tf.zeros((1,)), name="bias")

print(f"cluster: {len(cluster_dict['worker'])} workers, {len(cluster_dict['ps'])} ps; "
      f"variables on {kernel.device}", flush=True)

per_worker_dataset = coordinator.create_per_worker_dataset(dataset_fn)
per_worker_iterator = iter(per_worker_dataset)


@tf.function
def train_step(iterator):
    def step_fn(xb, yb):
        with tf.GradientTape() as tape:
            pred = tf.matmul(xb, kernel)[:, 0] + bias[0]
            loss = tf.reduce_mean(tf.square(pred - yb))
        grads = tape.gradient(loss, [kernel, bias])
        kernel.assign_sub(LEARNING_RATE * grads[0])
        bias.assign_sub(LEARNING_RATE * grads[1])
        return loss

    xb, yb = next(iterator)
    return strategy.run(step_fn, args=(xb, yb))


# ----- the loop: the coordinator schedules steps and logs them -----------------------------------
session = tfwatcher.Session(run_name="parameter server")
session.start(mode="custom", epochs=args.epochs, steps=args.steps)
try:
    for epoch in range(1, args.epochs + 1):
        t_epoch = time.perf_counter()
        results = [coordinator.schedule(train_step, args=(per_worker_iterator,))
                   for _ in range(args.steps)]
        coordinator.join()
        # Steps run concurrently on the workers: each batch gets the epoch's mean time.
        seconds = (time.perf_counter() - t_epoch) / args.steps
        losses = []
        for batch, result in enumerate(results, start=1):
            loss = float(result.fetch())
            losses.append(loss)
            session.log_batch({"loss": loss}, epoch=epoch, batch=batch, seconds=seconds)
        session.log_epoch({"loss": float(np.mean(losses))}, epoch=epoch,
                          seconds=time.perf_counter() - t_epoch)
        print(f"epoch {epoch}: mean loss {np.mean(losses):.4f}", flush=True)
        if session.stop_requested:  # the owner pressed Stop on the dashboard
            break
except BaseException as err:  # record the crash, then leave (see below)
    traceback.print_exc()
    stopped = isinstance(err, KeyboardInterrupt)
    session.finish("stopped" if stopped else "crashed", error=None if stopped else err, wait=10)
    os._exit(1)
ok = session.finish("stopped" if session.stop_requested else "finished", wait=30)
if session.enabled:
    print("all data sent" if ok else "some data not sent", flush=True)
# The in-process servers cannot be shut down cleanly: leave without running their destructors.
os._exit(0 if ok or not session.enabled else 1)
