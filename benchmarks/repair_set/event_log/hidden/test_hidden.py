from events import latest_by_device, statuses


def test_single_event():
    assert statuses([{"device": "d", "ts": 1, "status": "ok"}]) == {"d": "ok"}


def test_out_of_order_events():
    events = [{"device": "d", "ts": t, "status": str(t)} for t in [5, 9, 2, 7]]
    assert latest_by_device(events)["d"]["ts"] == 9
