"""Pure helpers behind TF Watcher's Cloud Functions.

`main.py` holds only the triggers; everything here takes a Firestore client and plain values
and returns what it did, so the tests call it directly against the Firestore emulator.
"""

from . import audience, config, contract, message, notify, purge, sweep

__all__ = ["audience", "config", "contract", "message", "notify", "purge", "sweep"]
