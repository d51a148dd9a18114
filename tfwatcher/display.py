"""What a user sees when a session starts: the ID, the links and a QR code."""

from __future__ import annotations

import io
import os
import sys


def in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ip = shell.get_ipython()
    except AttributeError:
        return False
    return ip is not None and type(ip).__name__ in ("ZMQInteractiveShell", "Shell")  # Jupyter, Colab


def qr_text(url: str) -> str:
    """The URL as a QR code drawn with Unicode half blocks (two modules per character)."""
    import segno

    out = io.StringIO()
    segno.make(url, error="l", micro=False).terminal(out=out, compact=True, border=2)
    return out.getvalue()


def announce(session, qr: bool | None = None, file=None) -> None:
    """Print the session ID (the predecessor's line, kept for scripts that parse it), the
    owner link (can stop training), the read-only share link and a QR code of the owner link."""
    from rich.console import Console

    file = file or sys.stdout
    console = Console(file=file, highlight=False, soft_wrap=True)
    console.print(f"Use this ID to monitor training for this session: [bold]{session.id}[/bold]")
    console.print(f"  Dashboard (yours, can stop training): {session.owner_url}")
    console.print(f"  Read-only link to share:              {session.share_url}")
    if qr is None and os.environ.get("TFWATCHER_QR") in ("0", "1"):
        qr = os.environ["TFWATCHER_QR"] == "1"
    if qr is False:
        return
    if in_notebook():
        try:
            import segno
            from IPython.display import display

            display(segno.make(session.owner_url, error="l"))
            return
        except Exception:  # fall back to text
            pass
    if qr or (qr is None and getattr(file, "isatty", lambda: False)()) or in_notebook():
        file.write(qr_text(session.owner_url))
        file.flush()
