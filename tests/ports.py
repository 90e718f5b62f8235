"""Ports on 127.0.0.1 for servers the tests configure before those servers start (the arbiter's config)."""

from __future__ import annotations

import random
import socket
from pathlib import Path

_handed_out: set[int] = set()
_LOWEST = 10_000  # below this are the well-known and the registered ports of common services


def ephemeral_range() -> tuple[int, int]:
    """The ports the kernel hands out itself, to bind(port 0) and to every outgoing connection."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32_768, 60_999


def free_port() -> int:
    """A port nothing listens on now, outside the kernel's ephemeral range, never handed out before here.

    A port is bound some time after it is picked: one from the ephemeral range could meanwhile become the
    local port of any outgoing connection of the test run, and the kernel may hand a released port straight
    back. A config also takes several ports at once (the arbiter's status port and one per app), which must
    differ.
    """
    low, _ = ephemeral_range()
    for _ in range(1000):
        port = random.randrange(_LOWEST, low) if low > _LOWEST + 1000 else 0
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            port = sock.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port
    raise AssertionError("no free port found in 1000 tries")
