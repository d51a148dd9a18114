"""The tutorial fit under the backend named by KERAS_BACKEND (set before keras is imported)."""
import os
import threading

import keras

import tfwatcher
from tfwatcher import demo

assert keras.backend.backend() == os.environ["KERAS_BACKEND"], keras.backend.backend()
threads = set()


class Spy(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        threads.add(threading.current_thread().name)


(x, y), _ = demo.load_data("digits")
watcher = tfwatcher.callbacks.Watcher()
assert watcher.async_safe
demo.get_model().fit(x, y, batch_size=100, epochs=3, validation_split=0.2, callbacks=[watcher, Spy()],
                     verbose=0)
assert watcher.session.flush(30)
print("batch hook threads:", sorted(threads), flush=True)
