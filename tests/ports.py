"""Ports on 127.0.0.1 for the servers the tests start."""

from __future__ import annotations

import socket

_handed_out: set[int] = set()


def free_port() -> int:
    """A port nothing listens on now, and never one this process handed out before: the kernel may give a
    released port straight back, and a config takes several ports at once (the arbiter's status port and one
    per app), which must differ."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port
