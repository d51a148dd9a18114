"""Setting up a Firebase project: `tfwatcher deploy` (`deploy`), `tfwatcher doctor`
(`doctor`), and making a workspace in it: `tfwatcher workspace` (`workspace`).

Imports `tfwatcher.base`, and `tfwatcher.local.emulator` to find an emulator.
"""
