"""A user's first minute, run by tests/base/test_access.py in a clean environment.

    python first_minute.py fit [WATCHER_KWARGS_JSON]   # a tiny real Keras fit with a Watcher
    python first_minute.py session                     # tfwatcher.Session used directly

Prints one line `RESULT {json}` (the session ID, what flush()/finish(wait=) returned, and the
timings) and exits normally; what the package prints goes to stdout/stderr as a user sees it.
"""
import json
import sys
import time
import warnings

warnings.simplefilter("default")  # a RuntimeWarning is shown (once per place), as in a notebook
mode = sys.argv[1]
kwargs = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
result = {}

if mode == "fit":
    import keras

    import tfwatcher
    from tfwatcher import demo

    (x, y), _ = demo.load_data("digits")
    model = demo.get_model()
    # Keras' own first-fit cost (tracing) is paid here, so what follows measures our part.
    model.fit(x, y, batch_size=250, epochs=1, verbose=0)

    class FirstBatch(keras.callbacks.Callback):
        at = None

        def on_train_batch_begin(self, batch, logs=None):
            if FirstBatch.at is None:
                FirstBatch.at = time.perf_counter()

    t0 = time.perf_counter()
    model.fit(x, y, batch_size=250, epochs=5, verbose=0, callbacks=[FirstBatch()])
    result["baseline_fit_s"] = time.perf_counter() - t0
    result["baseline_first_batch_s"] = FirstBatch.at - t0
    FirstBatch.at = None

    t0 = time.perf_counter()
    watcher = tfwatcher.callbacks.Watcher(**kwargs)
    result["construct_s"] = time.perf_counter() - t0
    model.fit(x, y, batch_size=250, epochs=5, verbose=0, callbacks=[watcher, FirstBatch()])
    result["fit_s"] = time.perf_counter() - t0
    result["first_batch_s"] = FirstBatch.at - t0
    print("fit done", flush=True)
    session = watcher.session
elif mode == "session":
    import tfwatcher

    session = tfwatcher.Session(**kwargs)
    session.start("custom", epochs=2, steps=10)
    for epoch in (1, 2):
        for batch in range(1, 11):
            session.log_batch({"loss": 1.0 / (epoch * batch)}, epoch=epoch, batch=batch, seconds=0.01)
        session.log_epoch({"loss": 1.0 / epoch}, epoch=epoch, seconds=0.1)
    result["finish"] = session.finish(wait=5)
else:
    raise SystemExit(f"unknown mode {mode!r}")

result["sid"] = session.id
result["enabled"] = session.enabled
result["flush"] = session.flush(5)
result["end"] = time.time()
print("RESULT " + json.dumps(result), flush=True)
