"""dns-01 through the user's scripts (against challtestsrv, which Pebble resolves through) and by hand."""

from __future__ import annotations

import stat
import sys
import threading
from pathlib import Path

import pytest
from integration.helpers import add_account, leaf_of, san_names, unique, verify_issued
from servers.pebble import PebbleServer

from certify_tui.challenges import get_provider
from certify_tui.challenges.dns import zones
from certify_tui.challenges.dns.base import TxtRecord
from certify_tui.challenges.dns.manual import ManualDnsProvider
from certify_tui.challenges.dns.script import ScriptDnsProvider
from certify_tui.errors import CertifyError, OperationError, UsageError
from certify_tui.events import ProgressEvent, RequestLog
from certify_tui.lifecycle import Core

pytestmark = pytest.mark.pebble

RECORD = TxtRecord("_acme-challenge.example.com", "v4lue-123", "example.com")


def write_script(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def challtestsrv_scripts(folder: Path, pebble: PebbleServer) -> tuple[Path, Path]:
    """Create/delete scripts that talk to challtestsrv's management API, as a DNS API client would."""
    common = f"""import json, os, sys, urllib.request
fqdn, value = sys.argv[-2], sys.argv[-1]
assert os.environ["CERTIFY_RECORD_NAME"] == fqdn and os.environ["CERTIFY_RECORD_VALUE"] == value
def post(path, body):
    req = urllib.request.Request("{pebble.challtestsrv_url}" + path, data=json.dumps(body).encode(),
                                 headers={{"Content-Type": "application/json"}})
    urllib.request.urlopen(req, timeout=10).read()
"""
    create = write_script(folder, "dns-create", common + """
post("/set-txt", {"host": fqdn + ".", "value": value})
print(f"dnsapi: added {fqdn} for {os.environ['CERTIFY_IDENTIFIER']} (args {sys.argv[1:-2]})")
print("dnsapi: a warning on stderr", file=sys.stderr)
""")
    delete = write_script(folder, "dns-delete", common + """
post("/clear-txt", {"host": fqdn + "."})
print(f"dnsapi: removed {fqdn}")
""")
    return create, delete


def test_script_dns01_wildcard_issuance(core: Core, pebble: PebbleServer, tmp_path: Path, data_dir: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zones, "RESOLVER_OVERRIDE", [f"127.0.0.1:{pebble.dns_port}"])
    create, delete = challtestsrv_scripts(tmp_path, pebble)
    add_account(core, pebble)
    base = f"{unique('s')}.example.test"
    names = [f"*.{base}", base]  # two values at one name at the same time
    core.add_certificate(name="scripted", domains=names, challenge="dns-01", provider="script",
                         options={"create_command": f"{create} --zone 'example test'",
                                  "delete_command": str(delete), "propagation_timeout": 0})

    result = core.request("scripted")

    # verify_issued checks chains per name, and a wildcard is no name to verify: check a host under it.
    leaf = leaf_of(result.version.files)
    assert sorted(san_names(leaf)) == sorted(names)
    with monkeypatch.context() as m:
        m.setattr("integration.helpers.san_names", lambda cert: [f"www.{base}", base])
        verify_issued(result.version.files, [f"www.{base}", base], pebble.root_pem(), data_dir=data_dir)
    log = core.certificate_log("scripted")
    assert f"dns-create: dnsapi: added _acme-challenge.{base} for *.{base} (args ['--zone', 'example test'])" in log
    assert "dns-create: dnsapi: a warning on stderr" in log
    assert f"dns-delete: dnsapi: removed _acme-challenge.{base}" in log


def test_failing_script_fails_the_request_clearly(core: Core, pebble: PebbleServer, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zones, "RESOLVER_OVERRIDE", [f"127.0.0.1:{pebble.dns_port}"])
    bad = write_script(tmp_path, "bad-dns", "import sys\nprint('API key rejected by the DNS host')\nsys.exit(3)\n")
    add_account(core, pebble)
    core.add_certificate(name="bad", domains=[f"{unique('b')}.example.test"], challenge="dns-01",
                         provider="script", options={"create_command": str(bad), "delete_command": "true",
                                                     "propagation_timeout": 0})

    with pytest.raises(CertifyError, match=r"create command 'bad-dns' for _acme-challenge\..* exit code 3"):
        core.request("bad")

    assert "bad-dns: API key rejected by the DNS host" in core.certificate_log("bad")
    view = core.certificate_view(core.get_certificate("bad"))
    assert "exit code 3" in view["last_error"]


def test_script_arguments_environment_and_output_limits(tmp_path: Path) -> None:
    chatty = write_script(tmp_path, "chatty", """import os, sys
print("|".join([sys.argv[1], sys.argv[2], sys.argv[3], os.environ["CERTIFY_RECORD_NAME"],
                os.environ["CERTIFY_RECORD_VALUE"], os.environ["CERTIFY_IDENTIFIER"], os.environ["CERTIFY_ACTION"]]))
for i in range(100):
    print(f"line {i} " + "x" * 1000)
""")
    provider = ScriptDnsProvider({"create_command": f"{chatty} 'one arg'", "delete_command": f"{chatty} d"})
    log = RequestLog()
    provider.create_txt(RECORD, log)
    messages = [e.message for e in log.events]
    assert "chatty: one arg|_acme-challenge.example.com|v4lue-123|_acme-challenge.example.com|v4lue-123|" \
           "example.com|create" in messages
    assert len([m for m in messages if m.startswith("chatty: line")]) == 39  # 40 lines kept, the first above
    assert all(len(m) < 400 for m in messages)
    assert messages[-1] == "chatty: (61 more line(s) not shown)"
    provider.delete_txt(RECORD, log)
    assert any(m.endswith("|delete") for m in (e.message for e in log.events))


def test_script_timeout_and_missing_command(tmp_path: Path) -> None:
    slow = ScriptDnsProvider({"create_command": "sh -c 'echo started; sleep 5'", "delete_command": "true",
                              "timeout": 1})
    log = RequestLog()
    with pytest.raises(OperationError, match=r"create command 'sh' for _acme-challenge.example.com did not "
                                             r"finish within 1 s"):
        slow.create_txt(RECORD, log)
    missing = ScriptDnsProvider({"create_command": str(tmp_path / "nope"), "delete_command": "true"})
    with pytest.raises(OperationError, match="Cannot run the create command 'nope'"):
        missing.create_txt(RECORD, log)


def test_script_options_are_checked() -> None:
    assert get_provider("dns-01", "script") is ScriptDnsProvider
    with pytest.raises(UsageError, match="create_command"):
        ScriptDnsProvider({"delete_command": "true"})
    with pytest.raises(UsageError, match="not a valid command line"):
        ScriptDnsProvider({"create_command": "echo 'unclosed", "delete_command": "true"})
    assert ScriptDnsProvider({"create_command": "a", "delete_command": "b"}).options["timeout"] == 60


def test_manual_announces_and_waits_for_confirmation() -> None:
    assert get_provider("dns-01", "manual") is ManualDnsProvider
    announced = threading.Event()
    confirmed = threading.Event()
    prompts: list[str] = []

    def on_event(event: ProgressEvent) -> None:
        if event.step == "dns":
            announced.set()

    def confirm(prompt: str) -> bool:
        prompts.append(prompt)
        return confirmed.wait(10)

    def person() -> None:  # reads the record off the screen, creates it, then confirms
        assert announced.wait(10)
        confirmed.set()

    helper = threading.Thread(target=person)
    helper.start()
    log = RequestLog(on_event=on_event, confirm=confirm)
    ManualDnsProvider({}).create_txt(RECORD, log)
    helper.join()

    line = '_acme-challenge.example.com. 60 IN TXT "v4lue-123"'
    dns_steps = [e for e in log.events if e.step == "dns"]
    assert len(dns_steps) == 1 and line in dns_steps[0].message and dns_steps[0].identifier == "example.com"
    assert line in prompts[0]
    assert any("confirmed" in e.message for e in log.events)

    ManualDnsProvider({}).delete_txt(RECORD, log)
    assert "you may delete the record now" in log.events[-1].message


def test_manual_without_anyone_to_confirm_only_announces() -> None:
    log = RequestLog()  # CLI, non-interactive: no hook
    assert log.wait_for_confirmation("anyone?", 5) is False
    ManualDnsProvider({}).create_txt(RECORD, log)
    assert [e.step for e in log.events] == ["dns"]


def test_manual_declined_or_unanswered_fails() -> None:
    with pytest.raises(OperationError, match="was not confirmed within 600 s"):
        ManualDnsProvider({}).create_txt(RECORD, RequestLog(confirm=lambda prompt: False))
    never = threading.Event()
    with pytest.raises(OperationError, match="was not confirmed within 1 s"):
        ManualDnsProvider({"wait_seconds": 1}).create_txt(RECORD, RequestLog(confirm=lambda prompt: never.wait(30)))
    never.set()


def test_confirmation_wait_ends_on_cancel() -> None:
    from certify_tui.events import Cancelled

    cancel, never = threading.Event(), threading.Event()
    log = RequestLog(cancel=cancel, confirm=lambda prompt: never.wait(30))
    threading.Timer(0.3, cancel.set).start()
    with pytest.raises(Cancelled):
        log.wait_for_confirmation("x", 30)
    never.set()
