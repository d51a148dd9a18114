"""Setting up a Firebase project: `tfwatcher deploy` (`deploy`) and `tfwatcher doctor`
(`doctor`).

Imports `tfwatcher.base`, and `tfwatcher.local.emulator` to find an emulator.
"""
