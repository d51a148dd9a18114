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
