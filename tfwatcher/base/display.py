"""What a user sees when a session starts: the ID, the links and a QR code.

Two links are printed. The read-only link (`/s/{id}`) is safe to share. The owner link
(`/s/{id}#k={key}`) can also stop training, so it stays private. Notebook outputs get saved
and shared (Colab, Kaggle, GitHub), so in a notebook the owner link and its QR code are shown
through one IPython display with a `display_id`, and `conceal(session)` (called by the
session each time a run ends) replaces that display with the ID, the read-only link and a
line saying the run ended: the saved notebook then holds no owner key. In a terminal, text
and a text QR code as before.

The first line is the predecessor's, kept because scripts parse it:
`Use this ID to monitor training for this session: <ID>` with the ID in its canonical form
(the Firestore document ID and the URL segment: lower case, no separators). The next line
shows the same ID grouped for reading aloud (`x7kq2m-9hfw4c-pd3ntr`); the dashboard takes both.
"""

from __future__ import annotations

import html
import io
import os
import sys
import threading

from tfwatcher.base.contract import ENDED_STATUSES
from tfwatcher.base.ids import display_id

SHARE_LABEL = "Read-only link, safe to share:"
OWNER_LABEL = "Your link (can stop training; keep it private):"

# Session ID -> the display_id of its owner-link display in this kernel (present only while
# an owner link is on screen).
_SHOWN: dict[str, str] = {}
_CONCEALED: dict[str, str] = {}  # ... and while `conceal` has emptied it (for `reveal`)
_LOCK = threading.Lock()


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


def qr_data_uri(url: str) -> str:
    """The URL as a QR code, a PNG `data:` URI (an `<img>` every notebook front end shows)."""
    import segno

    return segno.make(url, error="l", micro=False).png_data_uri(scale=4, border=2)


def _qr_wanted(qr: bool | None) -> bool | None:
    if qr is None and os.environ.get("TFWATCHER_QR") in ("0", "1"):
        return os.environ["TFWATCHER_QR"] == "1"
    return qr


def _link(url: str) -> str:
    u = html.escape(url, quote=True)
    return f'<a href="{u}" target="_blank" rel="noopener noreferrer">{u}</a>'


def _owner_bundle(session, qr: bool) -> dict:
    """The live display: both links, labelled, and the owner link's QR code."""
    shown = display_id(session.id)
    text = (f"Session {shown}\n"
            f"  {SHARE_LABEL} {session.share_url}\n"
            f"  {OWNER_LABEL} {session.owner_url}\n"
            f"  (This link and its QR code are removed from this output when the run ends.)")
    img = ""
    if qr:
        img = (f'<img src="{qr_data_uri(session.owner_url)}" width="164" height="164" '
               f'alt="QR code of your private link (can stop training)" '
               f'style="image-rendering:pixelated;margin:4px 0">')
    page = (f'<div class="tfwatcher-links" data-tfwatcher-session="{html.escape(session.id)}">'
            f"<div>{SHARE_LABEL} {_link(session.share_url)}</div>"
            f"<div>{OWNER_LABEL} {_link(session.owner_url)}</div>"
            f"{img}"
            f"<div><small>This link and its QR code are removed from this output when the run "
            f"ends.</small></div></div>")
    return {"text/plain": text, "text/html": page}


def _ended_bundle(session) -> dict:
    """What stays in the saved notebook: the ID, the read-only link, and that the run ended."""
    shown = display_id(session.id)
    status = getattr(session, "status", "") or ""
    ended = f"The run ended ({status})." if status in ENDED_STATUSES else "The run ended."
    note = "The private link that could stop it was removed from this output."
    text = (f"Session {shown}\n"
            f"  {SHARE_LABEL} {session.share_url}\n"
            f"  {ended} {note}")
    page = (f'<div class="tfwatcher-links" data-tfwatcher-session="{html.escape(session.id)}">'
            f"<div>Session <b>{html.escape(shown)}</b></div>"
            f"<div>{SHARE_LABEL} {_link(session.share_url)}</div>"
            f"<div>{html.escape(ended)} {note}</div></div>")
    return {"text/plain": text, "text/html": page}


def announce(session, qr: bool | None = None, file=None) -> None:
    """Print the session ID (the predecessor's line, canonical form, kept for scripts that
    parse it, then the grouped form), the read-only link and the owner link (can stop
    training), and a QR code of the owner link.

    In a notebook (and printing to its stdout) the links and the QR code image go into one
    display that `conceal` empties of the owner link when the run ends. `qr`: True/False
    forces the QR code on or off; None (default) shows it in notebooks and terminals
    (`TFWATCHER_QR=0|1` overrides).
    """
    from rich.console import Console

    notebook = file is None and in_notebook()
    file = file or sys.stdout
    # Plain text to the stream even in Jupyter (rich would make it a display, and ipykernel's
    # stream passes for a colour terminal): scripts parse it.
    console = Console(file=file, highlight=False, soft_wrap=True, force_jupyter=False,
                      **({"color_system": None} if notebook else {}))
    console.print(f"Use this ID to monitor training for this session: [bold]{session.id}[/bold]")
    if display_id(session.id) != session.id:
        console.print(f"  The same ID, grouped for reading aloud or typing: {display_id(session.id)}")
    qr = _qr_wanted(qr)
    if notebook and _display_owner(session, qr is not False):
        return
    console.print(f"  {SHARE_LABEL} {session.share_url}")
    console.print(f"  {OWNER_LABEL} {session.owner_url}")
    if qr is False:
        return
    if qr or notebook or getattr(file, "isatty", lambda: False)():
        file.write(qr_text(session.owner_url))
        file.flush()


def _display_owner(session, qr: bool) -> bool:
    """Show the links (and QR image) as a display that can be updated; False if that fails."""
    try:
        from IPython.display import display

        bundle = _owner_bundle(session, qr)
        handle_id = f"tfwatcher-owner-{session.id}"
        display(bundle, raw=True, display_id=handle_id)
        with _LOCK:
            _SHOWN[session.id] = handle_id
        return True
    except Exception:  # fall back to text
        return False


def conceal(session) -> bool:
    """Replace the notebook display of the owner link and its QR code with the ID, the
    read-only link and a line saying the run ended. Called when a run ends. Cheap, never
    raises; does nothing (returns False) outside a notebook or when nothing was displayed."""
    try:
        with _LOCK:
            sid = getattr(session, "id", None)
            handle_id = _SHOWN.pop(sid, None)
            if handle_id is None:
                return False
            _CONCEALED[sid] = handle_id
        from IPython.display import update_display

        update_display(_ended_bundle(session), raw=True, display_id=handle_id)
        return True
    except Exception:
        return False


def reveal(session, qr: bool | None = None) -> bool:
    """Show a later run's owner link (and its QR code) where the first one went: the display
    `announce` made, whether `conceal` emptied it (the last run ended) or it still shows an
    earlier run's link (a run started without finishing the last; that key no longer works).
    `conceal` empties it again when this run ends. Never raises; False when there is no
    display to update (nothing was displayed in this kernel)."""
    try:
        sid = getattr(session, "id", None)
        with _LOCK:
            handle_id = _CONCEALED.pop(sid, None) or _SHOWN.get(sid)
        if handle_id is None:
            return False  # never shown in this kernel
        from IPython.display import update_display

        update_display(_owner_bundle(session, _qr_wanted(qr) is not False), raw=True,
                       display_id=handle_id)
        with _LOCK:
            _SHOWN[sid] = handle_id
        return True
    except Exception:
        return False
