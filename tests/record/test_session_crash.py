"""What happens when a run ends badly: `lifecycle.crash` (the Keras path, from
`sys.excepthook` or IPython's cell hook) with sessions that cannot be finished."""

from __future__ import annotations

from tfwatcher.record import lifecycle


class _Session:
    """Just what `lifecycle` calls on a session."""

    def __init__(self, sid: str, broken: bool = False):
        self.id, self.broken = sid, broken
        self.stop_requested = False
        self.ended = []

    def start(self, mode, epochs=None, steps=None):
        pass

    def train_step(self) -> int:
        return 0

    def finish(self, status, error=None, wait=0):
        if self.broken:
            raise RuntimeError("writer gone")
        self.ended.append((status, type(error).__name__ if error else None))
        return True


def test_a_session_that_cannot_be_finished_is_named_once_and_the_others_still_end(capsys):
    broken, fine = _Session("broken0000000000aa", broken=True), _Session("fine00000000000000")
    lifecycle.begin(broken, object(), "fit")
    lifecycle.begin(fine, object(), "fit")
    lifecycle.crash(ValueError("boom"))  # never raises: a crash is not made worse
    assert fine.ended == [("crashed", "ValueError")]
    err = capsys.readouterr().err
    assert err.count("tfwatcher: could not mark session broken0000000000aa crashed") == 1
    assert "RuntimeError: writer gone" in err and "stalled" in err
    lifecycle.crash(ValueError("again"))  # nothing open any more: nothing said twice
    assert "could not mark" not in capsys.readouterr().err
