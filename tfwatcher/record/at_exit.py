"""At interpreter exit: wait a bounded time for every session's writer, spool what is left
and say so. Never "sent" for what was not."""

from __future__ import annotations

import os
import sys
import time


def flush_sessions(sessions) -> None:
    """End each open run (`crashed` when the interpreter is exiting on an uncaught exception,
    else `stopped`), then give all writers together `TFWATCHER_EXIT_TIMEOUT` seconds (10) to
    send; what is not sent goes to the spool, and stderr says where (or what is lost)."""
    timeout = float(os.environ.get("TFWATCHER_EXIT_TIMEOUT", "10"))
    deadline = time.monotonic() + timeout
    for session in sessions:
        writer = session.writer
        if writer is None or not writer.used:  # never used: nothing was ever meant to be sent
            continue
        if session.status == "running":
            session.finish("crashed" if getattr(sys, "last_value", None) else "stopped")
        if not writer.disabled and writer.flush(max(0.1, deadline - time.monotonic())):
            continue
        why = writer.cause()  # read before the spool: it names what kept the data back
        writer.spool(final=True)
        if not writer.disabled and not writer.pending() and not writer.left_in_spool[0]:
            continue  # all sent after all (flush said False for thinning: warned already)
        _report(session, writer, why)


def _report(session, writer, why: str) -> None:
    why = why.rstrip()
    why += "" if why.endswith(".") else "."
    if writer.spool_path and writer.spool_path.exists():
        docs, points = writer.left_in_spool
        print(f"tfwatcher: session {session.id} was NOT fully sent: {why} {points} batch "
              f"points ({docs} documents) are saved in {writer.spool_path}; upload them "
              f"with `tfwatcher sync`.", file=sys.stderr)
    if writer.pending():  # the spool could not be written either: say what is lost
        print(f"tfwatcher: session {session.id}: {writer.buffered_points()} batch points "
              f"({writer.pending()} documents) were neither sent nor saved and are lost: "
              f"{why} Saving to {writer.spool_path or 'the spool folder'} failed "
              f"({writer.spool_error}).", file=sys.stderr)
