from sessions import Session, SessionStore


def test_fresh_session_is_live():
    assert not Session("ana", 100.0, 60.0).is_expired(130.0)


def test_old_session_is_expired():
    assert Session("ana", 100.0, 60.0).is_expired(500.0)


def test_remaining():
    assert Session("ana", 100.0, 60.0).remaining(130.0) == 30.0
    assert Session("ana", 100.0, 60.0).remaining(999.0) == 0.0


def test_active_users():
    store = SessionStore()
    store.open("bo", now=0.0, ttl_s=10.0)
    store.open("ana", now=5.0, ttl_s=100.0)
    assert store.active_users(now=50.0) == ["ana"]
