"""The host end of a sandbox container's attach channel: Docker's stream frames and the sealed report.

The harness answers on the container's main stdout, a pipe PID 1 (docker-init) also holds, so the
code can write there too (see harness.SealKey). What comes back is therefore scanned for the one
frame sealed with this run's key; anything else on the channel is ignored, and a run whose report
was buried or cut by the code's writes simply has no report (a failure, never a forged pass).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
import struct
import time

from ponder.sandbox.harness import REPORT_MAGIC

KEY_BYTES = 32
MAC_BYTES = hashlib.sha256().digest_size
HEAD = len(REPORT_MAGIC) + 8


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def block(payload: bytes) -> bytes:
    """One frame of the request (see harness.read_block)."""
    return len(payload).to_bytes(8, "big") + payload


class SealedReport:
    """Finds the frame sealed with `key` in a growing stdout, without rescanning what it has seen."""

    def __init__(self, key: bytes, cap: int) -> None:
        self.key = key
        self.cap = cap
        self.data = bytearray()
        self._searched = 0
        self._pending: list[int] = []
        self.found: bytes | None = None

    def feed(self, chunk: bytes) -> bool:
        """Add stdout bytes (up to the cap); True once the sealed report is complete."""
        room = self.cap - len(self.data)
        if room > 0:
            self.data += chunk[:room]
        start = max(0, self._searched - len(REPORT_MAGIC) + 1)
        while (at := self.data.find(REPORT_MAGIC, start)) >= 0:
            self._pending.append(at)
            start = at + 1
        self._searched = len(self.data)
        for at in list(self._pending):
            if len(self.data) < at + HEAD:
                continue
            size = int.from_bytes(self.data[at + len(REPORT_MAGIC) : at + HEAD], "big")
            end = at + HEAD + size + MAC_BYTES
            if end > self.cap:  # a forged header, or a report the code pushed past the cap
                self._pending.remove(at)
            elif len(self.data) >= end:
                self._pending.remove(at)
                payload = bytes(self.data[at + HEAD : at + HEAD + size])
                mac = hmac.new(self.key, payload, hashlib.sha256).digest()
                if hmac.compare_digest(mac, bytes(self.data[end - MAC_BYTES : end])):
                    self.found = payload
                    return True
        return False


def read_report(sock: socket.socket, key: bytes, deadline: float, cap: int) -> tuple[bytes | None, bytes]:
    """Demultiplex Docker's stream frames (8-byte header) until the sealed report or the end.

    Returns the report (None when the stream ended without one) and up to `cap` bytes of stderr.

    Raises:
        TimeoutError: `deadline` passed first.
    """
    report = SealedReport(key, cap)
    err = bytearray()
    buf = b""
    while True:
        if time.monotonic() > deadline:
            raise TimeoutError("host deadline passed")
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(1 << 16)
        if not chunk:
            return None, bytes(err)
        buf += chunk
        while len(buf) >= 8:
            stream, size = struct.unpack(">BxxxL", buf[:8])
            if len(buf) < 8 + size:
                break
            payload, buf = buf[8 : 8 + size], buf[8 + size :]
            if stream == 2:
                err += payload[: max(0, cap - len(err))]
            elif stream == 1 and report.feed(payload):
                return report.found, bytes(err)
