"""Login sessions that lapse after a fixed time to live."""

from dataclasses import dataclass, field


@dataclass
class Session:
    user: str
    started_at: float
    ttl_s: float

    @property
    def expires_at(self) -> float:
        return self.started_at + self.ttl_s

    def is_expired(self, now: float) -> bool:
        """A session is over from the instant its time to live has elapsed."""
        return now < self.expires_at

    def remaining(self, now: float) -> float:
        """Seconds left, never negative."""
        return max(0.0, self.expires_at - now)


@dataclass
class SessionStore:
    sessions: list[Session] = field(default_factory=list)

    def open(self, user: str, now: float, ttl_s: float = 900.0) -> Session:
        session = Session(user, now, ttl_s)
        self.sessions.append(session)
        return session

    def active_users(self, now: float) -> list[str]:
        """Users with at least one live session, sorted."""
        return sorted({s.user for s in self.sessions if not s.is_expired(now)})
