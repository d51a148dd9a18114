"""Reading a run back, each job in its own module:

- `firestore`: what every reader shares (the session document, retries, the read counter,
  closing the client, finding the project, one-sentence errors);
- `load`: `tfwatcher.load` and the DataFrames; `files`: those frames into CSV or Parquet;
  `export`: the `tfwatcher export` command;
- `watch_view`: what a `tfwatcher watch` frame shows (pure); `watch`: its live listener and
  the command;
- `runs_view`: what `tfwatcher runs` shows of a workspace's runs (pure); `runs`: its listener,
  the command, and the reads behind `tfwatcher.load(workspace=...)`;
- `untrusted`: text the session's writer chose, made safe for terminals and spreadsheets.

Imports `tfwatcher.base` only.
"""
