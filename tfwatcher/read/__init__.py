"""Reading a run back: `tfwatcher.load` and `tfwatcher export` (`load`), and the live
terminal view `tfwatcher watch` (`watch`).

Imports `tfwatcher.base` only.
"""
