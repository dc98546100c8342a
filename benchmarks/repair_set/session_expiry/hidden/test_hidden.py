from sessions import Session, SessionStore


def test_expired_at_the_exact_instant():
    assert Session("ana", 0.0, 60.0).is_expired(60.0)


def test_live_just_before():
    assert not Session("ana", 0.0, 60.0).is_expired(59.999)


def test_all_users_active_at_start():
    store = SessionStore()
    for name in ["cy", "ana", "bo"]:
        store.open(name, now=0.0)
    assert store.active_users(now=0.0) == ["ana", "bo", "cy"]
    assert store.active_users(now=900.0) == []
