"""What `tfwatcher watch` shows must be true (issue 21): names that differ only at the end stay
apart, progress is as new as the data on screen, and `--once` does not say "Ctrl+C to leave".
Pure: the view model and the rendered frame of a listener's snapshot."""

from __future__ import annotations

import io

from tfwatcher.read import watch_view

NOW = 1_800_000_000.0
LONG = ["customer_churn_probability_train", "customer_churn_probability_val",
        "customer_churn_probability_test"]


def snapshot(session: dict, chunks=(), epochs=()) -> dict:
    return {"sid": "", "session": {"status": "running", "mode": "fit", "heartbeat": NOW - 5, **session},
            "epochs": list(epochs), "chunks": list(chunks), "kind": "train", "reads": 3}


def frame(snap: dict, live: bool = True, width: int = 100) -> str:
    from rich.console import Console

    console = Console(file=io.StringIO(), width=width)
    console.print(watch_view.render(watch_view.view_model(snap, now=NOW), width, live=live))
    return console.file.getvalue()


def test_long_names_are_cut_in_the_middle_and_stay_apart():
    latest = [{"name": n, "value": 0.5 + i / 10} for i, n in enumerate(LONG)]
    text = frame(snapshot({"metrics": LONG, "latest": latest}))
    shown = [watch_view.shorten_middle(n, watch_view.NAME_WIDTH) for n in LONG]
    assert len(set(shown)) == 3, shown
    for name in shown:
        assert name in text
        assert len(name) <= watch_view.NAME_WIDTH
    assert "_train" in text and "_val" in text and "_test" in text
    line = watch_view.status_line(watch_view.view_model(snapshot({"metrics": LONG, "latest": latest}), now=NOW))
    assert "ability_val=" in line and "ability_test=" in line


def test_shorten_middle_keeps_both_ends():
    assert watch_view.shorten_middle("loss", 24) == "loss"
    cut = watch_view.shorten_middle("customer_churn_probability_val", 24)
    assert cut.startswith("customer_") and cut.endswith("ability_val") and "…" in cut and len(cut) == 24


def test_progress_is_as_new_as_the_batch_points_on_screen():
    """The session document (heartbeat every 10 s) still says epoch 1, batch 10; the chunks the
    listener holds already reached epoch 3, batch 50, step 250."""
    chunk = {"n": 3, "step": [248, 249, 250], "epoch": [3, 3, 3], "batch": [48, 49, 50],
             "time": [NOW - 3, NOW - 2, NOW - 1], "series": [{"name": "loss", "values": [0.3, 0.2, 0.1]}]}
    session = {"plan": {"epochs": 5, "steps": 100}, "progress": {"epoch": 1, "batch": 10, "step": 10}}
    model = watch_view.view_model(snapshot(session, chunks=[chunk]), now=NOW)
    assert (model["epoch"], model["batch"], model["step"]) == (3, 50, 250)
    assert model["fraction"] == 250 / 500
    assert "epoch 3/5 · batch 50/100 · step 250" in frame(snapshot(session, chunks=[chunk]))


def test_an_epoch_record_moves_progress_past_a_stale_session_document():
    epochs = [{"kind": "train", "epoch": e, "names": ["loss"], "values": [1 / e], "time": NOW - 10 + e}
              for e in (1, 2)]
    session = {"plan": {"epochs": 4, "steps": 20}, "progress": {"epoch": 1, "batch": 5, "step": 5}}
    model = watch_view.view_model(snapshot(session, epochs=epochs), now=NOW)
    assert model["epoch"] == 2 and model["fraction"] == 0.5


def test_once_does_not_say_ctrl_c_but_the_live_view_does():
    snap = snapshot({"metrics": ["loss"], "latest": [{"name": "loss", "value": 1.0}]})
    assert "Ctrl+C" not in frame(snap, live=False)
    assert "Ctrl+C to leave" in frame(snap, live=True)
    assert "3 document reads so far" in frame(snap, live=False)


def test_a_metric_name_is_never_read_as_rich_markup():
    """Names are the writer's text: `[red]m[/red]` or `[link=...]` shows as written, never as
    markup (a colour, a terminal hyperlink)."""
    names = ["[red]m[/red]", "[link=https://evil.example]x[/link]"]
    text = frame(snapshot({"metrics": names, "latest": [{"name": n, "value": 1.0} for n in names]}),
                 width=140)
    assert "[red]m[/red]" in text and "[link=https" in text and "x[/link]" in text
