"""HTTP servers for the fakes that stop at once.

The stdlib's ``serve_forever`` looks for ``shutdown()``'s request only between polls (0.5 s unless set), so a
test that stops its fakes waits out a poll per server. Here the loop waits on the listening socket and a
wake-up socket together: ``shutdown()`` writes to the second and returns as soon as the loop has ended.
"""

from __future__ import annotations

import selectors
import socket
import threading
from http.server import ThreadingHTTPServer
from typing import Any


class QuickStop:
    """Mixin for a socketserver: ``serve_forever`` without polling, ``shutdown`` without waiting for a poll."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Before the server's own __init__, which calls server_close() when its bind fails.
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._loop_ended = threading.Event()
        super().__init__(*args, **kwargs)

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        server: Any = self
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(server, selectors.EVENT_READ)
                selector.register(self._wake_reader, selectors.EVENT_READ)
                while not any(key.fileobj is self._wake_reader for key, _ in selector.select()):
                    server._handle_request_noblock()
                    server.service_actions()
        finally:
            self._loop_ended.set()

    def shutdown(self) -> None:
        """End ``serve_forever`` (running in another thread) and wait until it has."""
        self._wake_writer.send(b"\0")
        self._loop_ended.wait()

    def server_close(self) -> None:
        super().server_close()  # type: ignore[misc]
        self._wake_reader.close()
        self._wake_writer.close()


class QuickStopServer(QuickStop, ThreadingHTTPServer):
    """A ThreadingHTTPServer (daemon handler threads) that stops at once."""
