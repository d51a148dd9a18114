"""Old module names (before 0.3 the package was one flat folder) still import, with a
DeprecationWarning naming the new place: `import tfwatcher.watch` gives `tfwatcher.read.watch`.

A meta-path finder answers only for the names below and hands back the real module, so the
old name and the new one are the same object (patching one patches the other).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

MOVED = {
    "tfwatcher.access": "tfwatcher.base.access",
    "tfwatcher.config": "tfwatcher.base.project",
    "tfwatcher.ids": "tfwatcher.base.ids",
    "tfwatcher.display": "tfwatcher.base.display",
    "tfwatcher.session": "tfwatcher.record.session",
    "tfwatcher.writer": "tfwatcher.record.writer",
    "tfwatcher.summaries": "tfwatcher.record.summaries",
    "tfwatcher.system": "tfwatcher.record.system",
    "tfwatcher.values": "tfwatcher.record.values",
    "tfwatcher.schedule": "tfwatcher.record.schedule",
    "tfwatcher.lifecycle": "tfwatcher.record.lifecycle",
    "tfwatcher.data": "tfwatcher.read.load",
    "tfwatcher.watch": "tfwatcher.read.watch",
    "tfwatcher.serve": "tfwatcher.local.server",
    "tfwatcher.emulator": "tfwatcher.local.emulator",
    "tfwatcher.deploy": "tfwatcher.setup.deploy",
    "tfwatcher.doctor": "tfwatcher.setup.doctor",
}


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        new = MOVED[spec.name]
        warnings.warn(f"{spec.name} moved to {new}; the old name will be removed in a later "
                      f"version", DeprecationWarning, stacklevel=2)
        return importlib.import_module(new)

    def exec_module(self, module):  # the real module is already executed
        pass


def install() -> None:
    if not any(isinstance(f, _Alias) for f in sys.meta_path):
        sys.meta_path.append(_Alias())
