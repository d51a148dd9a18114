"""Recording a run. Imports `tfwatcher.base` only: recording never imports reading, local
serving or setup, so a training process loads none of them.

The session (what the callbacks, the integrations and the logging API call):
  session        `Session`: start, log_batch, log_epoch, finish; the process's sessions
  progress       plan, progress and per-kind counters (under the session's lock)
  documents      the session document's fields, the epoch record
  owner          the owner key, the remote Stop listener, where a later run's link is shown
  hyperparameters  `config=`: flattening, limits, merging
  lifecycle      crashes, notebook cells that raise, interpreter exit
  at_exit        the time-limited flush at exit
  values, schedule, system   metric values as floats, `schedule=`, CPU/memory/GPU samples

The writer (after TensorBoard's event writer: API, buffer, thread, encoding apart):
  writer         `Writer`: what hooks call (no I/O, microseconds), thread start/stop, flush
  buffer         the pending documents and the writer's lock; no I/O
  sender         the thread's loop: rounds, commits, backoff, probing, its own connection
  chunk          batch points as parallel arrays (one chunk document)
  commit         grouping into commits, size estimates, splitting, fitting under 1 MiB
  spool, spill   the spool file (format, lock, upload) and spilling beyond the memory bound
  summaries      multi-resolution summaries and the epoch table (state machines, no I/O)

Lock order: a session's lock, then never the writer's while held (the session copies what it
needs, releases, then calls the writer); the writer's lock is never held while calling out.
"""
