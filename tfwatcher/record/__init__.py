"""Recording a run: the `Session` (what the callbacks and the logging API call), the writer
that sends its documents from a background thread, the summaries and epoch table a reader
opens a long run with, system metrics, value conversion, schedules and process lifecycle.

Imports `tfwatcher.base` only: recording never imports reading, local serving or setup, so
a training process loads none of them.
"""
