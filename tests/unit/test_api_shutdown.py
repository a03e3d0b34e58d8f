"""Stopping the API while a request is in flight: the request finishes and nothing is logged as an error
(waitress used to log an EBADF traceback when the trigger was closed before its task threads ended)."""

from __future__ import annotations

import logging
import threading
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

import pytest
import waitress

from certify_tui.service.api import ApiServer


def test_stop_waits_for_the_request_in_flight_without_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    started, release = threading.Event(), threading.Event()

    def slow_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started.set()
        release.wait(10)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"done"]

    server: Any = waitress.create_server(slow_app, host="127.0.0.1", port=0, threads=2)
    loop = threading.Thread(target=server.run, daemon=True)
    loop.start()
    answers: list[bytes] = []
    client = threading.Thread(target=lambda: answers.append(urllib.request.urlopen(
        f"http://127.0.0.1:{server.effective_port}/", timeout=20).read()), daemon=True)
    client.start()
    assert started.wait(10)

    caplog.set_level(logging.WARNING, logger="waitress")
    stopper = threading.Thread(target=ApiServer._shutdown, args=(server, loop))
    stopper.start()
    threading.Timer(0.5, release.set).start()  # the request ends while the server is stopping
    stopper.join(30)
    client.join(20)

    assert not stopper.is_alive() and not loop.is_alive()
    assert answers == [b"done"]  # the request in flight got its answer
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
