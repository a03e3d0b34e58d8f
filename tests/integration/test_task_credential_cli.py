"""A webhook task that names a stored credential, from the shell: the token comes from a file into the
credential, the task holds only the name, a rotation reaches the next deployment, removal is refused while used."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from integration.test_cli import add_account, add_cert, cli, ok
from servers.pebble import PebbleServer

pytestmark = pytest.mark.pebble

TOKEN = "Bearer first-token-5f0c2a"
ROTATED = "Bearer rotated-token-91be7d"


class Hook:
    """A webhook receiver that records the Authorization header of every POST."""

    def __init__(self) -> None:
        seen: list[str] = []
        self.seen = seen

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                seen.append(self.headers.get("Authorization") or "")
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    receiver = Hook()
    yield receiver
    receiver.close()


def test_webhook_task_through_a_stored_credential(pebble: PebbleServer, hook: Hook, tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_account(data, pebble)
    add_cert(data, pebble, "web", "hooked.example.test")
    ok(data, "cert", "request", "web")

    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    ok(data, "credential", "add", "hook", "--task", "webhook", "-o", f"url={hook.url}",
       "-o", f"secret_header=@{token_file}")
    wrong = cli(data, "cert", "task", "add", "web", "--type", "command", "-o", "command=/bin/true",
                "--credential", "hook")
    assert wrong.code == 2 and "is for the webhook task, not the command task" in wrong.err, str(wrong)
    ok(data, "cert", "task", "add", "web", "--type", "webhook", "--credential", "hook")

    listed = ok(data, "cert", "task", "list", "web", "--json").json()
    assert listed[0]["credential"] == "hook" and "url" not in listed[0]["options"]
    preview = ok(data, "cert", "preview", "web").out
    assert "with credential hook" in preview and TOKEN not in preview
    shown = ok(data, "credential", "show", "hook").out
    assert "web" in shown and TOKEN not in shown  # used by web, the token masked

    ok(data, "cert", "deploy", "web")
    assert hook.seen == [TOKEN]

    token_file.write_text(ROTATED)
    ok(data, "credential", "set", "hook", "-o", f"secret_header=@{token_file}")
    ok(data, "cert", "deploy", "web")
    assert hook.seen == [TOKEN, ROTATED]  # the rotation reached the task

    refused = cli(data, "credential", "remove", "hook")
    assert refused.code == 2 and "used by web" in refused.err, str(refused)
    ok(data, "cert", "task", "remove", "web", "1")
    ok(data, "credential", "remove", "hook")
    for db in data.glob("certify.db*"):
        content = db.read_bytes()
        assert TOKEN.encode() not in content and ROTATED.encode() not in content, db
