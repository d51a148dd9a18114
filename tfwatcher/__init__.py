"""TF Watcher: watch Keras training live from your phone.

    import tfwatcher
    model.fit(..., callbacks=[tfwatcher.callbacks.EpochEnd(schedule=1)])

Importing this package does not import TensorFlow or Keras; `tfwatcher.callbacks` does.
"""

from tfwatcher import _moved
from tfwatcher.version import __version__

_moved.install()  # old module names (tfwatcher.watch, tfwatcher.config, ...) still import

__all__ = ["__version__", "callbacks", "Session", "load"]


def __getattr__(name):
    # Lazy, so `python -m tfwatcher.local.emulator` and the logging API never pay for Keras.
    if name == "callbacks":
        import importlib

        return importlib.import_module(".callbacks", __name__)
    if name == "Session":
        from tfwatcher.record.session import Session

        return Session
    if name == "load":  # needs pandas (`pip install "tf-watcher[data]"`), imported when called
        from tfwatcher.read.load import load

        return load
    raise AttributeError(f"module 'tfwatcher' has no attribute {name!r}")
