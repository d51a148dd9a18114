"""Session IDs: the one format the package, the dashboard and the tests share.

The format lives in the data contract (`contract.json` beside this module, "session_id"): 18 characters from an alphabet
without 0 1 i l o (89 bits, so nobody can guess or harvest one), shown in groups of 6
(`x7kq2m-9hfw4c-pd3ntr`). Sessions made by earlier versions have 7-character IDs; they still
open.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import unquote

from tfwatcher.base.contract import SESSION_ID as FORMAT
ALPHABET: str = FORMAT["alphabet"]
LENGTH: int = FORMAT["length"]
LEGACY_LENGTH: int = FORMAT["legacy_length"]


def new_session_id() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def is_session_id(text: str) -> bool:
    """True for a canonical ID (or a legacy 7-character one): no separators, lower case."""
    return (isinstance(text, str) and len(text) in (LENGTH, LEGACY_LENGTH)
            and all(c in ALPHABET for c in text))


def display_id(sid: str) -> str:
    """The ID grouped for reading aloud: `x7kq2m-9hfw4c-pd3ntr` (legacy IDs unchanged)."""
    if len(sid) != LENGTH:
        return sid
    g = FORMAT["group"]
    return FORMAT["separator"].join(sid[i:i + g] for i in range(0, len(sid), g))


# Characters people or phones put between the groups: hyphens (and the dashes autocorrect
# makes of them), spaces, dots, underscores.
_SEPARATORS = frozenset(" \t\r\n-\u2010\u2011\u2012\u2013\u2014\u2212._\u00a0")
_LINK = re.compile(r"(?:^|/)(?:s|logs)/([^/?#]+)")


def parse(text: str) -> str:
    """The canonical ID in what someone typed or pasted, or `ValueError` saying what is wrong.

    Accepts the ID with or without separators (`x7kq2m-9hfw4c-pd3ntr`, `X7KQ 2M9H FW4C PD3N TR`),
    in any case, or a share or owner link (`https://p.web.app/s/ID`, `/s/ID#k=...`,
    `/logs/ID`); also a legacy 7-character ID.
    """
    if not isinstance(text, str):
        raise ValueError(f"a session ID is a string; got {type(text).__name__}")
    raw = text.strip()
    link = _LINK.search(raw)
    if link:
        raw = unquote(link.group(1))
    elif "://" in raw:
        raise ValueError(f"that link does not point to a session (expected .../s/ID): {text!r:.120}")
    sid = "".join(c for c in raw.lower() if c not in _SEPARATORS)
    if not sid:
        raise ValueError(f"enter the {LENGTH}-character session ID")
    bad = sorted({c for c in sid if c not in ALPHABET})
    if bad:
        hint = (" IDs never use 0, 1, i, l or o: check for a look-alike letter or digit."
                if any(c in "01ilo" for c in bad) else "")
        raise ValueError(f"a session ID has only letters and digits 2-9; {text!r:.120} contains "
                         f"{', '.join(repr(c) for c in bad)}.{hint}")
    if len(sid) not in (LENGTH, LEGACY_LENGTH):
        raise ValueError(f"a session ID has {LENGTH} characters (older ones {LEGACY_LENGTH}); "
                         f"{text!r:.120} has {len(sid)}")
    return sid


# ----- workspace IDs ------------------------------------------------------------------------
# A workspace ID is the contract's "workspace_id" prefix ("w") then a session-ID-shaped body:
# as unguessable (89 bits), told apart from a session ID at a glance, shown `w-x7kq2m-...`.
from tfwatcher.base.contract import CONTRACT as _CONTRACT  # noqa: E402

WORKSPACE_PREFIX: str = _CONTRACT["workspace_id"]["prefix"]
_WS_LINK = re.compile(r"(?:^|/)w/([^/?#]+)")


def new_workspace_id() -> str:
    return WORKSPACE_PREFIX + new_session_id()


def is_workspace_id(text: str) -> bool:
    """True for a canonical workspace ID: the prefix and LENGTH characters of ALPHABET."""
    return (isinstance(text, str) and len(text) == len(WORKSPACE_PREFIX) + LENGTH
            and text.startswith(WORKSPACE_PREFIX)
            and all(c in ALPHABET for c in text[len(WORKSPACE_PREFIX):]))


def display_workspace_id(wid: str) -> str:
    """`w-x7kq2m-9hfw4c-pd3ntr`."""
    return f"{WORKSPACE_PREFIX}{FORMAT['separator']}{display_id(wid[len(WORKSPACE_PREFIX):])}"


def parse_workspace(text: str) -> str:
    """The canonical workspace ID in what someone typed, pasted or set in TFWATCHER_WORKSPACE,
    or `ValueError` saying what is wrong: the ID with or without separators (`w-x7kq2m-9hfw4c-
    pd3ntr`), or a workspace link (`https://p.web.app/w/ID`, also an owner link `/w/ID#k=...`,
    whose key is ignored here)."""
    if not isinstance(text, str):
        raise ValueError(f"a workspace ID is a string; got {type(text).__name__}")
    raw = text.strip()
    link = _WS_LINK.search(raw)
    if link:
        raw = unquote(link.group(1))
    elif _LINK.search(raw):
        raise ValueError(f"that is a session's link, not a workspace's (expected .../w/ID): {text!r:.120}")
    elif "://" in raw:
        raise ValueError(f"that link does not point to a workspace (expected .../w/ID): {text!r:.120}")
    wid = "".join(c for c in raw.lower() if c not in _SEPARATORS)
    body = wid[len(WORKSPACE_PREFIX):] if wid.startswith(WORKSPACE_PREFIX) else None
    if not wid:
        raise ValueError("enter the workspace ID (it starts with w-; `tfwatcher workspace show` prints it)")
    if body is None or any(c not in ALPHABET for c in body) or len(body) != LENGTH:
        if len(wid) == LENGTH and all(c in ALPHABET for c in wid):
            raise ValueError(f"{text!r:.120} is a session ID; a workspace ID starts with w- "
                             f"(`tfwatcher workspace show` prints it)")
        if len(raw) >= 30 and re.fullmatch(r"[A-Za-z0-9_-]+", raw):
            raise ValueError("that looks like an owner key, which is a secret: pass the workspace ID "
                             "(w-...) or its read-only link, never the key")
        raise ValueError(f"a workspace ID is w- then {LENGTH} letters and digits 2-9 (no 0, 1, i, l, "
                         f"o); got {text!r:.120}")
    return wid
