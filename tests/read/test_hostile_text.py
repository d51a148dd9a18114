"""Hostile text from a session's writer (issue 20, items 1 and 2): run names, metric names and
error messages reach `tfwatcher watch`'s terminal with no escape sequence left, and
`tfwatcher export --csv` files that spreadsheets do not run as formulas and that
`pandas.read_csv` reads back, against the real emulator and sessions written by the package."""

from __future__ import annotations

import csv
import io
import math
import re

import pandas as pd
import pytest

import tfwatcher
from tfwatcher.cli import main
from tfwatcher.read import untrusted, watch

OSC52 = "\x1b]52;c;aGVsbG8gY2xpcGJvYXJk\x07"  # writes the clipboard
TITLE = "\x1b]0;you have been owned\x07"       # retitles the window
CLEAR = "\x1b[2J\x1b[H"                        # clears the screen, cursor home
CURSOR = "\x1b[5A\x1b[2K"                      # five lines up, erase the line
C1_CSI = "\x9b31m"                             # a CSI in one C1 byte
BIDI = "loss\u202etxt.exe"                     # shows as "lossexe.txt"
ESCAPES = re.compile("[\x1b\x80-\x9f\u202a-\u202e\u2066-\u2069]")


def hostile_session():
    s = tfwatcher.Session(quiet=True, interval=0.1, run_name="run" + OSC52 + TITLE + BIDI)
    s.start(mode="fit", epochs=2, steps=3)
    metrics = {"loss": 0.5, "acc" + CLEAR + C1_CSI: 0.7, BIDI: 1.0}
    for batch in range(1, 4):
        s.log_batch(metrics, epoch=1, batch=batch)
    s.log_epoch({**metrics, "val_" + CURSOR: 0.2}, epoch=1)
    return s


def assert_safe(text: str) -> None:
    found = sorted({f"U+{ord(c):04X}" for c in ESCAPES.findall(text)})
    assert not found, f"{found} reached the terminal"


def console(buffer):
    from rich.console import Console

    return Console(file=buffer, width=160, color_system=None, highlight=False)


def test_watch_shows_hostile_names_and_errors_as_text(db, capsys):
    s = hostile_session()
    s.finish("crashed", error=RuntimeError("boom" + CURSOR + OSC52 + "\nStatus: finished"))
    assert s.flush(15)
    out = io.StringIO()
    assert watch.watch_command(s.id, once=True, console=console(out)) == 0
    text = out.getvalue()
    assert_safe(text + capsys.readouterr().err)
    assert "Status: crashed" in text and "Error: RuntimeError: boom" in text
    assert "loss⟨U+202E⟩txt.exe" in text and "␛]52;c;" in text and "⟨U+009B⟩31m" in text
    assert "\nStatus: finished" not in text, "a line break in an error cannot fake a line"


def test_the_live_view_and_its_status_lines_are_safe_too(db, capsys):
    s = hostile_session()  # still running: first frame, status lines, final frame
    assert s.flush(15)
    out = io.StringIO()
    assert watch.watch_command(s.id, console=console(out), max_seconds=1.5) == 0
    text = out.getvalue()
    assert_safe(text + capsys.readouterr().err)
    assert "  running  " in text and "acc␛[2J␛[H⟨U+009B⟩31m=0.7" in text
    s.finish()


def test_terminal_text_makes_every_control_visible():
    assert untrusted.terminal_text("a\x1b[2Jb") == "a␛[2Jb"
    assert untrusted.terminal_text("x\x07\x00\x7f") == "x␇␀␡"
    assert untrusted.terminal_text("t\tn\nr\r") == "t n r "
    assert untrusted.terminal_text("\x9b\x85") == "⟨U+009B⟩⟨U+0085⟩"
    assert untrusted.terminal_text("\u2066a\u2069") == "⟨U+2066⟩a⟨U+2069⟩"
    assert untrusted.terminal_text("naïve ünïcode ✓ 損失") == "naïve ünïcode ✓ 損失"
    tree = untrusted.terminal_tree({"k\x1b": ["v\x9b", 1.5, None, ("\u202e",)]})
    assert tree == {"k␛": ["v⟨U+009B⟩", 1.5, None, ("⟨U+202E⟩",)]}


# ----- tfwatcher export --csv --------------------------------------------------------------------

HOSTILE_NAMES = ['=HYPERLINK("http://evil.example","click")', "+1+2", "-2+3", "@SUM(A1:A9)",
                 "\tleading tab", "\rleading cr", "bare\rcr", "line\nfeed", "crlf\r\nname",
                 "'quoted", 'say "hi", twice', "loss"]


@pytest.fixture
def hostile_run(db):
    s = tfwatcher.Session(quiet=True, interval=0.1, run_name="=cmd|' /C calc'!A0")
    s.start(mode="fit", epochs=1, steps=2)
    values = {name: float(i) - 5.5 for i, name in enumerate(HOSTILE_NAMES)}  # negatives too
    for batch in (1, 2):
        s.log_batch(values, epoch=1, batch=batch)
    s.log_epoch(values, epoch=1)
    s.finish()
    assert s.flush(15)
    return s.id, values


def cells(path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as f:
        return [cell for row in csv.reader(f) for cell in row]


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_export_csv_neutralises_formulas_and_round_trips_through_pandas(hostile_run, tmp_path):
    sid, values = hostile_run
    assert main(["export", sid, "--csv", str(tmp_path / "safe")]) == 0
    for name in ("epochs", "batches"):
        path = tmp_path / "safe" / f"{name}.csv"
        for cell in cells(path):
            assert is_number(cell) or not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
        frame = pd.read_csv(path)  # a bare CR in a name split the header here before
        names = [c[1:] if c.startswith("'") else c for c in frame.columns[-len(HOSTILE_NAMES):]]
        assert names == HOSTILE_NAMES
        row = frame.iloc[0]
        for column, original in zip(frame.columns[-len(HOSTILE_NAMES):], HOSTILE_NAMES):
            assert math.isclose(row[column], values[original]), (column, row[column])
        assert list(frame["kind"].unique()) == ["train"]
    assert "'=HYPERLINK(" in (tmp_path / "safe" / "epochs.csv").read_text(encoding="utf-8")


def test_raw_cells_keeps_them_as_stored_and_still_parses(hostile_run, tmp_path):
    sid, values = hostile_run
    assert main(["export", sid, "--csv", str(tmp_path / "raw"), "--raw-cells"]) == 0
    frame = pd.read_csv(tmp_path / "raw" / "epochs.csv")
    assert list(frame.columns[-len(HOSTILE_NAMES):]) == HOSTILE_NAMES
    run = tfwatcher.load(sid)
    run.to_csv(tmp_path / "api")  # the Python API is safe by default too
    assert "'=HYPERLINK(" in (tmp_path / "api" / "batches.csv").read_text(encoding="utf-8")


def test_spreadsheet_cell_leaves_numbers_and_plain_text_alone():
    assert untrusted.spreadsheet_cell(-0.5) == -0.5
    assert untrusted.spreadsheet_cell("train") == "train"
    assert untrusted.spreadsheet_cell("=1+1") == "'=1+1"
    assert untrusted.spreadsheet_cell("'x") == "''x"
