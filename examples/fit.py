"""Train with `tfwatcher.callbacks.Watcher`: every epoch, every training batch and, here, the
validation batches too, all in one session (one ID, one dashboard).

Run it against whatever is configured: a running `tfwatcher local` (found by itself), an
emulator named by FIRESTORE_EMULATOR_HOST, or your own project (TFWATCHER_PROJECT plus
credentials, see docs/deploy.md):

    python examples/fit.py --epochs 3

Data: the tutorial's shapes built offline from scikit-learn's digits (no download).
"""
import argparse

import tfwatcher
from tfwatcher.demo import get_model, load_data

parser = argparse.ArgumentParser(description="fit() with a Watcher callback")
parser.add_argument("--epochs", type=int, default=3)
args = parser.parse_args()

(x_train, y_train), _ = load_data("digits")
model = get_model()

# epochs=1 and batches=1 log every epoch and every batch (defaults); test_batches=1 adds the
# validation batches (off by default: their results are in every epoch record already).
watcher = tfwatcher.callbacks.Watcher(epochs=1, batches=1, test_batches=1, run_name="examples/fit.py")
model.fit(x_train, y_train, batch_size=100, epochs=args.epochs, validation_split=0.2,
          callbacks=[watcher], verbose=2)

# fit() never waits for the network; a script that exits now should wait for the writer.
if watcher.session.enabled:
    print("all data sent" if watcher.session.flush(30) else "some data not sent")
