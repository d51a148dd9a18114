"""Record an `evaluate()` call batch by batch with `tfwatcher.callbacks.TestBatchEnd`.

Run it against whatever is configured (a running `tfwatcher local`, FIRESTORE_EMULATOR_HOST,
or your project: TFWATCHER_PROJECT plus credentials, see docs/deploy.md):

    python examples/evaluate.py

The model is first trained for a few epochs without monitoring, then evaluated on the 1,000
test samples in batches of 100: the dashboard shows 10 test batches (loss, accuracy, time).
"""
import argparse

import tfwatcher
from tfwatcher.demo import get_model, load_data

parser = argparse.ArgumentParser(description="evaluate() with a TestBatchEnd callback")
parser.add_argument("--epochs", type=int, default=3, help="unmonitored training epochs first")
args = parser.parse_args()

(x_train, y_train), (x_test, y_test) = load_data("digits")
model = get_model()
model.fit(x_train, y_train, batch_size=128, epochs=args.epochs, verbose=0)

tester = tfwatcher.callbacks.TestBatchEnd(schedule=1, run_name="examples/evaluate.py")
results = model.evaluate(x_test, y_test, batch_size=100, callbacks=[tester], verbose=0,
                         return_dict=True)
print("evaluate:", results)

if tester.session.enabled:
    print("all data sent" if tester.session.flush(30) else "some data not sent")
