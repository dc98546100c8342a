"""Device status from the event log: the newest event per device wins, whatever the file order."""

import json
from pathlib import Path
from typing import Any

Event = dict[str, Any]


def load_events(path: Path) -> list[Event]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def latest_by_device(events: list[Event]) -> dict[str, Event]:
    latest: dict[str, Event] = {}
    for event in events:
        current = latest.get(event["device"])
        if current is None or event["ts"] < current["ts"]:
            latest[event["device"]] = event
    return latest


def statuses(events: list[Event]) -> dict[str, str]:
    return {device: e["status"] for device, e in sorted(latest_by_device(events).items())}
