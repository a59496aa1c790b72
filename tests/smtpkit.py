"""A local SMTP server for the report tests (aiosmtpd on 127.0.0.1), stopped after the
test and, whatever happens, after at most two minutes."""
from __future__ import annotations

import socket
import threading

import pytest

MAX_LIFETIME = 120.0


class _Collect:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def free_port() -> int:
    """A port nobody listens on."""
    return _port()


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    handler = _Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=_port(), ready_timeout=10)
    controller.start()
    stopper = threading.Timer(MAX_LIFETIME, controller.stop)
    stopper.daemon = True
    stopper.start()
    controller.messages = handler.messages
    controller.url = f"smtp://127.0.0.1:{controller.port}"
    try:
        yield controller
    finally:
        stopper.cancel()
        try:
            controller.stop()
        except AssertionError:  # already stopped by the timer
            pass
