from pathlib import Path

from events import load_events, statuses

EVENTS = load_events(Path(__file__).parent / "events.jsonl")


def test_loads_every_line():
    assert len(EVENTS) == 4


def test_newest_status_wins():
    assert statuses(EVENTS) == {"pump-1": "fault", "pump-2": "ok"}
