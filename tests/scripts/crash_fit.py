"""A fit that raises in epoch 3: the session must end `crashed`, with every point kept."""
import keras

import tfwatcher
from tfwatcher import demo


class Boom(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if self._epoch == 2 and batch == 0:
            raise ValueError("boom at epoch 3")

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch


(x, y), _ = demo.load_data("digits")
watcher = tfwatcher.callbacks.Watcher(test_batches=None)
demo.get_model().fit(x, y, batch_size=250, epochs=5, callbacks=[watcher, Boom()], verbose=0)
