"""Workspace IDs (issue 19): drawn as unguessable as session IDs, told apart from them, and
parsed from whatever a user types, pastes or puts in TFWATCHER_WORKSPACE, with a clear error
for everything else (a session ID, a session link, an owner key, a look-alike character)."""

from __future__ import annotations

import secrets

import pytest

from tfwatcher.base import contract, ids

PREFIX = contract.CONTRACT["workspace_id"]["prefix"]


def test_a_new_id_is_the_prefix_and_a_session_shaped_body():
    drawn = {ids.new_workspace_id() for _ in range(2000)}
    assert len(drawn) == 2000
    for wid in drawn:
        assert wid.startswith(PREFIX) and len(wid) == len(PREFIX) + ids.LENGTH
        assert all(c in ids.ALPHABET for c in wid[len(PREFIX):])
        assert ids.is_workspace_id(wid) and not ids.is_session_id(wid)
    # every character of the alphabet turns up in every position: the body is random
    for i in range(len(PREFIX), len(PREFIX) + ids.LENGTH):
        assert len({wid[i] for wid in drawn}) == len(ids.ALPHABET), i


def test_is_workspace_id_takes_the_canonical_form_only():
    wid = ids.new_workspace_id()
    assert ids.is_workspace_id(wid)
    for other in (ids.display_workspace_id(wid), wid.upper(), wid[1:], wid + "a", wid[:-1],
                  ids.new_session_id(), PREFIX + "0" * ids.LENGTH, "", None, 7):
        assert not ids.is_workspace_id(other), other


def test_display_groups_the_body():
    wid = PREFIX + "x7kq2m9hfw4cpd3ntr"
    assert ids.display_workspace_id(wid) == "w-x7kq2m-9hfw4c-pd3ntr"


@pytest.mark.parametrize("form", [
    "{wid}", "{shown}", "{upper}", "  {shown}\n", "W {spaced}", "w\u2013x7kq2m\u2013" "9hfw4c\u2013pd3ntr",
    "w_x7kq2m_9hfw4c_pd3ntr", "w.x7kq2m.9hfw4c.pd3ntr",
    "https://p.web.app/w/{wid}", "https://p.web.app/w/{shown}", "http://192.168.1.5:5000/w/{wid}",
    "https://p.web.app/w/{wid}#k=" + "A" * 32, "https://p.web.app/w/{wid}?tab=all", "/w/{wid}",
    "https://p.web.app/w/w%2Dx7kq2m%2D9hfw4c%2Dpd3ntr",
])
def test_parse_accepts_every_way_of_writing_it(form):
    wid = PREFIX + "x7kq2m9hfw4cpd3ntr"
    text = form.format(wid=wid, shown=ids.display_workspace_id(wid), upper=wid.upper(),
                       spaced="X7KQ 2M9H FW4C PD3N TR")
    assert ids.parse_workspace(text) == wid


def test_an_owner_link_gives_the_id_never_the_key():
    wid, key = ids.new_workspace_id(), secrets.token_urlsafe(24)
    got = ids.parse_workspace(f"https://p.web.app/w/{wid}#k={key}")
    assert got == wid and key.lower() not in got


@pytest.mark.parametrize("text, message", [
    ("", "enter the workspace ID"),
    ("   ", "enter the workspace ID"),
    ("w-x7kq2m-9hfw4c", "a workspace ID is w- then 18"),
    ("w-x7kq2m-9hfw4c-pd3ntr-abc", "a workspace ID is w- then 18"),
    ("w-x7kq2m-9hfw4c-pd3nt0", "a workspace ID is w- then 18"),
    ("w-x7kq2m-9hfwlc-pd3ntr", "a workspace ID is w- then 18"),
    ("x7kq2m-9hfw4c-pd3ntr", "is a session ID"),
    ("X7KQ2M9HFW4CPD3NTR", "is a session ID"),
    ("https://p.web.app/s/x7kq2m9hfw4cpd3ntr", "session's link"),
    ("https://p.web.app/s/x7kq2m9hfw4cpd3ntr#k=" + "A" * 32, "session's link"),
    ("https://p.web.app/settings", "does not point to a workspace"),
    ("https://p.web.app/w/", "does not point to a workspace"),
    ("https://p.web.app/w/x7kq2m9hfw4cpd3ntr", "is a session ID"),
    ("hello world", "a workspace ID is w- then 18"),
])
def test_parse_says_what_is_wrong(text, message):
    with pytest.raises(ValueError) as caught:
        ids.parse_workspace(text)
    assert message in str(caught.value), str(caught.value)


def test_a_session_id_is_named_as_such_in_any_form():
    sid = ids.new_session_id()
    for text in (sid, ids.display_id(sid), sid.upper()):
        with pytest.raises(ValueError, match="is a session ID"):
            ids.parse_workspace(text)


def test_an_owner_key_passed_as_the_id_is_refused_without_echoing_it():
    """A key in TFWATCHER_WORKSPACE (a notebook secret) would be a secret in the wrong place:
    the error says so and does not repeat the key (error messages end up in saved outputs)."""
    for _ in range(300):
        key = secrets.token_urlsafe(24)
        with pytest.raises(ValueError) as caught:
            ids.parse_workspace(key)
        text = str(caught.value)
        assert "owner key" in text, (key, text)
        assert key not in text


def test_a_value_that_is_not_text_is_refused():
    for value in (None, 42, b"w-x7kq2m-9hfw4c-pd3ntr", ["w"]):
        with pytest.raises(ValueError, match="is a string"):
            ids.parse_workspace(value)


def test_session_parsing_is_unchanged():
    """Adding workspaces leaves the session parser as it was: a workspace ID or link is not a
    session ID."""
    sid = ids.new_session_id()
    assert ids.parse(f"https://p.web.app/s/{sid}") == sid
    wid = ids.new_workspace_id()
    with pytest.raises(ValueError):
        ids.parse(wid)
    with pytest.raises(ValueError):
        ids.parse(f"https://p.web.app/w/{wid}")
