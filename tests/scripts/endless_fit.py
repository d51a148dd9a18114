"""A fit that runs until killed, with a 1-second heartbeat."""
import time

import keras

import tfwatcher
from tfwatcher import demo


class Pace(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        time.sleep(0.01)


(x, y), _ = demo.load_data("digits")
session = tfwatcher.Session(heartbeat=1.0)
watcher = tfwatcher.callbacks.Watcher(session=session)
demo.get_model().fit(x, y, batch_size=250, epochs=100000, callbacks=[watcher, Pace()], verbose=0)
