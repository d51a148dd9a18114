"""Record a `predict()` call: `PredictEnd` stores one summary per call (seconds, batches) and
`PredictBatchEnd` the time of each batch. Both share one session (one ID).

Run it against whatever is configured (a running `tfwatcher local`, FIRESTORE_EMULATOR_HOST,
or your project: TFWATCHER_PROJECT plus credentials, see docs/deploy.md):

    python examples/predict.py

Predict logs hold the model's outputs, not metrics, so only times are recorded.
"""
import tfwatcher
from tfwatcher.demo import get_model, load_data

_, (x_test, _) = load_data("digits")
model = get_model()

summary = tfwatcher.callbacks.PredictEnd(run_name="examples/predict.py")
batches = tfwatcher.callbacks.PredictBatchEnd(schedule=1, session=summary.session)
predictions = model.predict(x_test, batch_size=100, callbacks=[summary, batches], verbose=0)
print("predictions:", predictions.shape)

if summary.session.enabled:
    print("all data sent" if summary.session.flush(30) else "some data not sent")
