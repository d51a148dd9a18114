"""A fit whose Firestore never answers: training must finish normally."""
import tfwatcher
from tfwatcher import demo

(x, y), _ = demo.load_data("digits")
watcher = tfwatcher.callbacks.Watcher()
demo.get_model().fit(x, y, batch_size=250, epochs=5, callbacks=[watcher], verbose=0)
print("fit done", flush=True)
